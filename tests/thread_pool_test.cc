// The thread pool when threads cannot be had: an address-space limit that
// stops pthread_create after a few threads must give an error naming the
// count, with the threads already started joined, never a hang (the pool
// once blocked forever destroying a condition variable its workers still
// waited on); and DLC_NUM_THREADS read strictly.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "ir/error.h"
#include "runtime/thread_pool.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

/// A field of /proc/self/status ("VmSize", "Threads") as a number; -1 when absent.
long proc_status(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  return -1;
}

/// Runs `child` in a forked process and returns what it wrote to the pipe
/// `fd`; "TIMEOUT" when it did not exit within `seconds` (it is killed).
template <class Fn>
std::string run_forked(int seconds, Fn child) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string text = child();
    ssize_t ignored = write(fds[1], text.data(), text.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(fds[0]);
      return "TIMEOUT after " + std::to_string(seconds) + " s; read so far: " + got;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;  // the child closed its end: it exited
    got.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) got += " [child died: signal " + std::to_string(WTERMSIG(status)) + "]";
  return got;
}

// 300 threads of 8 MiB stacks (2 MiB with no stack limit) under an address
// space only 64 MiB above what the process holds: thread creation fails
// partway.
TEST(ThreadPoolStart, FailureToStartThreadsIsAnErrorNotAHang) {
  std::string got = run_forked(30, [] {
    long vm_kib = proc_status("VmSize");
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(vm_kib + 64 * 1024) * 1024;
    if (vm_kib < 0 || setrlimit(RLIMIT_AS, &limit) != 0) return std::string("setrlimit failed");
    try {
      ThreadPool pool(300);
      return std::string("STARTED all 300 threads; the limit did not bite");
    } catch (const Error& e) {
      // Every worker that did start is joined: this thread is the only one.
      return std::string(e.what()) + " | threads left: " + std::to_string(proc_status("Threads"));
    } catch (const std::exception& e) {
      return std::string("not a dlc::Error: ") + e.what();
    }
  });
  EXPECT_EQ(got.find("TIMEOUT"), std::string::npos) << got;
  EXPECT_NE(got.find("cannot start a pool of 300 threads"), std::string::npos) << got;
  EXPECT_NE(got.find("DLC_NUM_THREADS"), std::string::npos) << got;
  EXPECT_NE(got.find("| threads left: 1"), std::string::npos) << got;
}

TEST(ThreadPoolStart, CountOutsideTheRangeIsRefused) {
  for (int n : {0, -3, ThreadPool::kMaxThreads + 1}) {
    try {
      ThreadPool pool(n);
      ADD_FAILURE() << "a pool of " << n << " threads was made (" << pool.size() << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(n) + " threads"), std::string::npos) << e.what();
    }
  }
}

/// Sets DLC_NUM_THREADS for one scope.
class ScopedThreadsVariable {
 public:
  explicit ScopedThreadsVariable(const char* value) {
    if (const char* old = std::getenv("DLC_NUM_THREADS")) old_ = old, had_ = true;
    setenv("DLC_NUM_THREADS", value, 1);
  }
  ~ScopedThreadsVariable() {
    if (had_) setenv("DLC_NUM_THREADS", old_.c_str(), 1);
    else unsetenv("DLC_NUM_THREADS");
  }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(ThreadPoolStart, NumThreadsVariableIsParsedStrictly) {
  {
    ScopedThreadsVariable v("3");
    EXPECT_EQ(ThreadPool::default_threads(), 3);
  }
  // Each was once read by atoi: "8x" as 8, the rest ignored for the core count.
  for (const char* bad : {"abc", "8x", "0", "-2", " 4", "1025", "99999999999999999999", ""}) {
    ScopedThreadsVariable v(bad);
    try {
      int n = ThreadPool::default_threads();
      ADD_FAILURE() << "DLC_NUM_THREADS='" << bad << "' gave " << n << " threads";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("DLC_NUM_THREADS: '" + std::string(bad) + "'"), std::string::npos)
          << e.what();
    }
  }
}

// The reported symptom end to end: dlrun loading a cpu model with
// DLC_NUM_THREADS=300 under a 1 GiB address space printed nothing and hung.
TEST(ThreadPoolStart, DlrunUnderAnAddressSpaceLimitReportsTheCount) {
#if defined(__SANITIZE_ADDRESS__)
  // dlrun is built with the test; ASan's shadow memory alone exceeds the 1 GiB limit.
  GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit";
#endif
  std::string dir = test::temp_dir(), out;
  int rc = test::run_command(test::tool_path("dlc") + " compile " +
                                 test::source_path("models/softmax_regression.pbtxt") + " --target cpu --batch 4 -o " +
                                 dir + "/m.dlc",
                             &out);
  ASSERT_EQ(rc, 0) << out;
  {
    std::ofstream x(dir + "/x.csv");
    for (int i = 0; i < 784; ++i) x << (i ? ",0" : "0");
    x << "\n";
  }
  rc = test::run_command("bash -c 'ulimit -v 1048576; DLC_NUM_THREADS=300 exec timeout 60 " +
                             test::tool_path("dlrun") + " eval " + dir + "/m.dlc --test-x " + dir +
                             "/x.csv --test-y " + dir + "/x.csv'",
                         &out);
  EXPECT_NE(rc, 124) << "dlrun hung:\n" << out;
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("cannot start a pool of 300 threads"), std::string::npos) << out;
}

}  // namespace
}  // namespace dlc
