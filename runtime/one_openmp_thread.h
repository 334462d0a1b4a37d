// Debian's oneDNN runs on OpenMP and would start a team of threads inside
// each call. The cpu executor's thread pool owns the parallelism (each call
// is one thread's block of a step), so for the length of a call the calling
// thread's OpenMP thread count is 1, and it is restored after it.
#pragma once

// libgomp's C API, declared here rather than through <omp.h>, which only
// GCC ships (the fuzz build compiles with clang and links the same libgomp).
extern "C" {
int omp_get_max_threads(void);
void omp_set_num_threads(int);
}

namespace dlc {

class OneOpenMpThread {
 public:
  OneOpenMpThread() : saved_(omp_get_max_threads()) {
    if (saved_ != 1) omp_set_num_threads(1);
  }
  ~OneOpenMpThread() {
    if (saved_ != 1) omp_set_num_threads(saved_);
  }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int saved_;
};

}  // namespace dlc
