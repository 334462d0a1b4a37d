/* The floor under an MLP training step: its matrix products alone through
 * OpenBLAS's cblas_sgemm or oneDNN's dnnl_sgemm, whichever is faster, and
 * the machine's float32 GEMM rate and its cores' peak FMA rate.
 *
 * For each batch B on the command line it times the 8 products of one Adam
 * step of models/mlp_mnist.pbtxt (784-256-256-10), with the shapes dlc's
 * train_step uses (row-major):
 *   forward   x·W1 [B,784]x[784,256], h1·W2 [B,256]x[256,256], h2·W3 [B,256]x[256,10]
 *   weights   x'·dz1 [784,B]x[B,256], h1'·dz2 [256,B]x[B,256], h2'·dz3 [256,B]x[B,10]
 *   inputs    dz3·W3' [B,10]x[10,256], dz2·W2' [B,256]x[256,256]
 * (x needs no gradient), and the 3 forward products alone (inference).
 * Each is timed four ways: on OpenBLAS's own threads, split into one block
 * per thread of single-threaded OpenBLAS calls, and the same two with
 * oneDNN (dlc's cpu executor runs oneDNN blocks); step_ms and forward_ms are
 * the fastest.
 * adam_ms times the other half of a step's unavoidable work: one Adam
 * update of all 269,322 parameters (read the parameter, its gradient and
 * both moments, write back three), a memory-bound pass split over the
 * threads; step_ms + adam_ms is the floor of a whole training step.
 * Prints one JSON object. Usage: gemm_floor THREADS [BATCH...] (no batch:
 * the GEMM rate alone, for bench/cpu_cnn's FLOPs-over-rate floor).
 * Build: cc -O3 -march=native -fopenmp gemm_floor.c -o gemm_floor -lopenblas -ldnnl -lm
 */
#include <cblas.h>
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>

void openblas_set_num_threads(int);

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static float* filled(long n) {
  float* p = malloc(sizeof(float) * (size_t)n);
  if (!p) {
    fprintf(stderr, "gemm_floor: out of memory\n");
    exit(1);
  }
  for (long i = 0; i < n; ++i) p[i] = (float)((i * 7919 % 1000) / 1000.0 - 0.5);
  return p;
}

static int g_split = 0; /* >0: split each product over this many OpenMP threads */
static int g_onednn = 0; /* 1: dnnl_sgemm, else cblas_sgemm */

/* One single-call product: C[m,n] (leading dim ldc) = op(A)·op(B). */
static void sgemm(int ta, int tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c,
                  int ldc) {
  if (g_onednn) {
    /* Inside the split's parallel region oneDNN runs on the calling thread;
     * outside it, on the OpenMP threads (omp_set_num_threads). */
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
              b, ldb, 0.0f, c, ldc);
}

/* C[m,n] = op(A)·op(B), row-major; ta/tb: A is stored [k,m] / B is stored [n,k].
 * With g_split, C is cut into g_split blocks of rows (or of columns when it
 * is wider than tall), each one single-threaded OpenBLAS call on its own
 * thread: how dlc's cpu executor runs a GEMM. */
static void mm(int ta, int tb, int m, int n, int k, const float* a, const float* b, float* c) {
  const int lda = ta ? m : k, ldb = tb ? k : n;
  if (g_split <= 1) {
    sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, n);
    return;
  }
  const int by_rows = m >= n, len = by_rows ? m : n;
#pragma omp parallel for num_threads(g_split) schedule(static)
  for (int part = 0; part < g_split; ++part) {
    int begin = (int)((long)len * part / g_split), end = (int)((long)len * (part + 1) / g_split);
    if (begin == end) continue;
    if (by_rows)
      sgemm(ta, tb, end - begin, n, k, ta ? a + begin : a + (long)begin * k, lda, b, ldb, c + (long)begin * n, n);
    else
      sgemm(ta, tb, m, end - begin, k, a, lda, tb ? b + (long)begin * k : b + begin, ldb, c + begin, n);
  }
}

enum { IN = 784, H = 256, OUT = 10 };

struct Buffers {
  float *x, *w1, *w2, *w3, *h1, *h2, *z3, *dz1, *dz2, *dh1, *dh2, *dw1, *dw2, *dw3;
};

static struct Buffers make(int b) {
  struct Buffers s = {filled((long)b * IN), filled(IN * H), filled(H * H), filled(H * OUT), filled((long)b * H),
                      filled((long)b * H), filled((long)b * OUT), filled((long)b * H), filled((long)b * H),
                      filled((long)b * H), filled((long)b * H), filled(IN * H), filled(H * H), filled(H * OUT)};
  return s;
}

static void release(struct Buffers* s) {
  float** p = (float**)s;
  for (size_t i = 0; i < sizeof *s / sizeof(float*); ++i) free(p[i]);
}

static void forward(const struct Buffers* s, int b) {
  mm(0, 0, b, H, IN, s->x, s->w1, s->h1);
  mm(0, 0, b, H, H, s->h1, s->w2, s->h2);
  mm(0, 0, b, OUT, H, s->h2, s->w3, s->z3);
}

static void train_step(const struct Buffers* s, int b) {
  forward(s, b);
  mm(1, 0, H, OUT, b, s->h2, s->z3, s->dw3);   /* dW3 = h2'·dz3 */
  mm(0, 1, b, H, OUT, s->z3, s->w3, s->dh2);   /* dh2 = dz3·W3' */
  mm(1, 0, H, H, b, s->h1, s->dz2, s->dw2);    /* dW2 = h1'·dz2 */
  mm(0, 1, b, H, H, s->dz2, s->w2, s->dh1);    /* dh1 = dz2·W2' */
  mm(1, 0, IN, H, b, s->x, s->dz1, s->dw1);    /* dW1 = x'·dz1 */
}

enum { PARAMS = IN * H + H + H * H + H + H * OUT + OUT };

struct AdamState {
  float *p, *g, *m, *v;
};
static struct AdamState g_adam;
static int g_adam_threads = 1;

/* One Adam update (lr 1e-3, betas 0.9/0.999, eps 1e-8, bias-corrected). */
static void adam_step(const struct Buffers* s, int b) {
  (void)s, (void)b;
  const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, c1 = 1.0f / (1 - 0.9f), c2 = 1.0f / (1 - 0.999f);
  float *p = g_adam.p, *g = g_adam.g, *m = g_adam.m, *v = g_adam.v;
#pragma omp parallel for num_threads(g_adam_threads) schedule(static)
  for (long i = 0; i < PARAMS; ++i) {
    float mi = b1 * m[i] + (1 - b1) * g[i], vi = b2 * v[i] + (1 - b2) * g[i] * g[i];
    m[i] = mi, v[i] = vi;
    p[i] -= lr * (mi * c1) / (sqrtf(vi * c2) + 1e-8f);
  }
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

/* Median milliseconds of `reps` calls after a few untimed ones. */
static double median_ms(void (*fn)(const struct Buffers*, int), const struct Buffers* s, int b, int reps) {
  double* t = malloc(sizeof(double) * (size_t)reps);
  for (int i = 0; i < 5; ++i) fn(s, b);
  for (int i = 0; i < reps; ++i) {
    double start = now_ms();
    fn(s, b);
    t[i] = now_ms() - start;
  }
  qsort(t, (size_t)reps, sizeof(double), cmp);
  double m = reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
  free(t);
  return m;
}

/* GFLOP/s of a square n x n x n sgemm: the rate the BLAS reaches on big products. */
static double square_rate(int n) {
  float *a = filled((long)n * n), *b = filled((long)n * n), *c = filled((long)n * n);
  mm(0, 0, n, n, n, a, b, c);
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    double start = now_ms();
    mm(0, 0, n, n, n, a, b, c);
    double ms = now_ms() - start;
    if (ms < best) best = ms;
  }
  free(a), free(b), free(c);
  return 2.0 * n * n * n / (best * 1e6);
}

/* The cores' peak float32 rate: per thread 12 independent FMA chains on
 * vector registers (nothing from memory), as wide as the build allows;
 * GFLOP/s over all threads, best of 5. No product can run faster: a step's
 * FLOPs over this rate is its hard floor. 0 without FMA. */
#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 fma_vec;
#define FMA_LANES 16
#define FMA_SET _mm512_set1_ps
#define FMA_OP _mm512_fmadd_ps
#elif defined(__FMA__)
#include <immintrin.h>
typedef __m256 fma_vec;
#define FMA_LANES 8
#define FMA_SET _mm256_set1_ps
#define FMA_OP _mm256_fmadd_ps
#endif
static double peak_fma_rate(int threads) {
#ifdef FMA_LANES
  const long iters = 50000000;
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    double start = now_ms();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
      fma_vec a = FMA_SET(1.0000001f), b = FMA_SET(0.9999999f), c[12];
      for (int k = 0; k < 12; ++k) c[k] = FMA_SET((float)k);
      for (long it = 0; it < iters; ++it) {
        c[0] = FMA_OP(c[0], a, b), c[1] = FMA_OP(c[1], a, b), c[2] = FMA_OP(c[2], a, b);
        c[3] = FMA_OP(c[3], a, b), c[4] = FMA_OP(c[4], a, b), c[5] = FMA_OP(c[5], a, b);
        c[6] = FMA_OP(c[6], a, b), c[7] = FMA_OP(c[7], a, b), c[8] = FMA_OP(c[8], a, b);
        c[9] = FMA_OP(c[9], a, b), c[10] = FMA_OP(c[10], a, b), c[11] = FMA_OP(c[11], a, b);
      }
      float lanes[FMA_LANES];
      for (int k = 1; k < 12; ++k) c[0] = FMA_OP(c[0], a, c[k]);
      __builtin_memcpy(lanes, &c[0], sizeof lanes);
      sink += lanes[0];
    }
    double ms = now_ms() - start;
    double rate = 2.0 * 12 * FMA_LANES * iters * threads / (ms * 1e6);
    if (rate > best && sink == sink) best = rate;
  }
  return best;
#else
  (void)threads;
  return 0;
#endif
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gemm_floor THREADS [BATCH...]\n");
    return 2;
  }
  int threads = atoi(argv[1]);
  if (threads < 1) {
    fprintf(stderr, "gemm_floor: THREADS must be >= 1, not '%s'\n", argv[1]);
    return 2;
  }
  /* The machine's rate: one big product on OpenBLAS's own threads. */
  openblas_set_num_threads(threads);
  g_adam.p = filled(PARAMS), g_adam.g = filled(PARAMS), g_adam.m = filled(PARAMS), g_adam.v = filled(PARAMS);
  for (long i = 0; i < PARAMS; ++i) g_adam.v[i] = fabsf(g_adam.v[i]);
  g_adam_threads = threads;
  double adam_ms = median_ms(adam_step, NULL, 0, 2000);
  printf("{\"threads\":%d,\"square_n\":2048,\"gflops\":%.2f,\"peak_gflops\":%.2f,\"adam_ms\":%.4f,\"batches\":[",
         threads, square_rate(2048), peak_fma_rate(threads), adam_ms);
  for (int i = 2; i < argc; ++i) {
    int b = atoi(argv[i]);
    if (b < 1) {
      fprintf(stderr, "gemm_floor: batch must be >= 1, not '%s'\n", argv[i]);
      return 2;
    }
    struct Buffers s = make(b);
    double flops_fwd = 2.0 * b * (IN * H + H * H + H * OUT);
    double flops_step = flops_fwd + 2.0 * b * (IN * H + H * H + H * OUT) + 2.0 * b * (H * H + OUT * H);
    /* About 20 x 0.5 GFLOP per measurement, at least 5 and at most 3000 calls. */
    int reps = (int)(1e10 / flops_step);
    if (reps < 5) reps = 5;
    if (reps > 3000) reps = 3000;
    /* Four ways to use the threads; the floor is the fastest. */
    double step[4], fwd[4];
    for (int way = 0; way < 4; ++way) {
      g_onednn = way >= 2;
      g_split = way % 2 ? threads : 0;
      openblas_set_num_threads(way % 2 ? 1 : threads);
      omp_set_num_threads(threads);
      step[way] = median_ms(train_step, &s, b, reps);
      fwd[way] = median_ms(forward, &s, b, reps);
    }
    double step_min = step[0], fwd_min = fwd[0];
    for (int way = 1; way < 4; ++way) {
      if (step[way] < step_min) step_min = step[way];
      if (fwd[way] < fwd_min) fwd_min = fwd[way];
    }
    g_onednn = 0;
    printf("%s{\"batch\":%d,\"step_flops\":%.0f,\"forward_flops\":%.0f,"
           "\"step_ms_blas_threads\":%.4f,\"step_ms_split\":%.4f,\"forward_ms_blas_threads\":%.4f,"
           "\"forward_ms_split\":%.4f,\"step_ms_onednn_threads\":%.4f,\"step_ms_onednn_split\":%.4f,"
           "\"forward_ms_onednn_threads\":%.4f,\"forward_ms_onednn_split\":%.4f,\"step_ms\":%.4f,\"forward_ms\":%.4f}",
           i > 2 ? "," : "", b, flops_step, flops_fwd, step[0], step[1], fwd[0], fwd[1], step[2], step[3], fwd[2],
           fwd[3], step_min, fwd_min);
    release(&s);
  }
  printf("]}\n");
  return 0;
}
