/* The C API's own time for one predict call: dlrt_run on a loaded model,
 * timed in a loop. Prints the median over ROUNDS rounds of the mean
 * microseconds per call, for bench.py's table.
 *
 *   c_api_predict MODEL.dlc CALLS ROUNDS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlrt.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: c_api_predict MODEL.dlc CALLS ROUNDS\n");
    return 2;
  }
  long calls = atol(argv[2]), rounds = atol(argv[3]);
  if (calls < 1 || rounds < 1 || rounds > 1000) return 2;
  dlrt_model* m;
  if (dlrt_model_load(argv[1], &m) != DLRT_OK) {
    fprintf(stderr, "%s\n", dlrt_last_error());
    return 1;
  }
  dlrt_tensor_info in, out;
  if (dlrt_entry_input(m, "predict", 0, &in) != DLRT_OK || dlrt_entry_output(m, "predict", 0, &out) != DLRT_OK) {
    fprintf(stderr, "%s\n", dlrt_last_error());
    return 1;
  }
  float* x = calloc((size_t)in.numel, sizeof(float));
  float* y = calloc((size_t)out.numel, sizeof(float));
  for (int64_t i = 0; i < in.numel; ++i) x[i] = (float)(i % 255) / 255.0f;
  dlrt_input input = {in.name, in.dtype, x, in.numel};
  dlrt_output output = {out.name, out.dtype, y, out.numel};
  double* per_call = calloc((size_t)rounds, sizeof(double));
  for (long r = 0; r < rounds; ++r) {
    double t0 = now_us();
    for (long c = 0; c < calls; ++c)
      if (dlrt_run(m, "predict", &input, 1, &output, 1) != DLRT_OK) {
        fprintf(stderr, "%s\n", dlrt_last_error());
        return 1;
      }
    per_call[r] = (now_us() - t0) / (double)calls;
  }
  qsort(per_call, (size_t)rounds, sizeof(double), cmp);
  printf("%.3f\n", per_call[rounds / 2]);
  dlrt_model_free(m);
  free(x);
  free(y);
  free(per_call);
  return 0;
}
