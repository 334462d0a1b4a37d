/* embed_c: classifies Fashion-MNIST images with an executable compiled by
 * `dlc compile`, through the dlrt C API alone.
 *
 *   embed_c MODEL.dlc IMAGES [--labels LABELS] [--weights CHECKPOINT] [--count N]
 *
 * IMAGES and LABELS are uncompressed IDX files (gunzip Fashion-MNIST's
 * t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz); pixels are scaled
 * to [0, 1] as in training. CHECKPOINT is a safetensors file of trained
 * weights (`dlrun train --checkpoint`, or embed_cpp's); without it the model
 * predicts with its initial weights. Prints one line per image: the most
 * probable class, its probability and, given LABELS, the true class.
 *
 * The input is found by its role (DATA) among predict's inputs, and its
 * shape read from the executable, so any single-input classifier compiled
 * from models/ whose examples hold 784 values works. Pure C99.
 */
#include <dlrt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* const kClassNames[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* Returns 1 when `status` is DLRT_OK; otherwise prints what failed with the
 * library's error text and returns 0. */
static int ok(dlrt_status status, const char* what) {
  if (status == DLRT_OK) return 1;
  fprintf(stderr, "embed_c: %s: %s: %s\n", what, dlrt_status_name(status), dlrt_last_error());
  return 0;
}

static int read_be32(FILE* f, unsigned long* value) {
  unsigned char b[4];
  if (fread(b, 1, 4, f) != 4) return 0;
  *value = ((unsigned long)b[0] << 24) | ((unsigned long)b[1] << 16) | ((unsigned long)b[2] << 8) | b[3];
  return 1;
}

/* Reads the first `count` items of an IDX file of unsigned bytes with `rank`
 * dimensions; *item_size is set to the bytes per item. Returns a malloc'ed
 * buffer, or NULL after printing why. */
static unsigned char* read_idx(const char* path, int rank, long count, long* item_size) {
  unsigned char* data = NULL;
  unsigned long magic = 0, dim = 0, items = 0;
  long size = 1;
  int k;
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "embed_c: %s: cannot open\n", path);
    return NULL;
  }
  /* 0x00 0x00, type 0x08 (unsigned byte), number of dimensions. */
  if (!read_be32(f, &magic) || magic != (0x0800UL | (unsigned long)rank)) {
    fprintf(stderr, "embed_c: %s: not an IDX file of unsigned bytes with %d dimensions (gunzip it first?)\n",
            path, rank);
    goto done;
  }
  for (k = 0; k < rank; ++k) {
    if (!read_be32(f, &dim) || dim == 0 || dim > 100000) {
      fprintf(stderr, "embed_c: %s: bad dimension %d\n", path, k);
      goto done;
    }
    if (k == 0) items = dim;
    else size *= (long)dim;
  }
  if ((unsigned long)count > items) {
    fprintf(stderr, "embed_c: %s holds %lu items, fewer than the %ld asked for\n", path, items, count);
    goto done;
  }
  data = malloc((size_t)(count * size));
  if (!data || fread(data, 1, (size_t)(count * size), f) != (size_t)(count * size)) {
    fprintf(stderr, "embed_c: %s: truncated or out of memory\n", path);
    free(data);
    data = NULL;
    goto done;
  }
  *item_size = size;
done:
  fclose(f);
  return data;
}

static void usage(void) {
  fprintf(stderr, "usage: embed_c MODEL.dlc IMAGES [--labels LABELS] [--weights CHECKPOINT] [--count N]\n");
}

int main(int argc, char** argv) {
  const char *model_path = NULL, *images_path = NULL, *labels_path = NULL, *weights_path = NULL;
  long count = 8, features = 0, image_size = 0, label_size = 0, classes = 0, start, r, c;
  int64_t batch = 0;
  size_t n_inputs = 0, n_outputs = 0;
  int exit_code = 1, a, correct = 0;
  dlrt_model* model = NULL;
  dlrt_tensor_info x_info, probs_info;
  unsigned char *images = NULL, *labels = NULL;
  float *x = NULL, *probs = NULL;

  for (a = 1; a < argc; ++a) {
    if (a + 1 < argc && strcmp(argv[a], "--labels") == 0) {
      labels_path = argv[++a];
    } else if (a + 1 < argc && strcmp(argv[a], "--weights") == 0) {
      weights_path = argv[++a];
    } else if (a + 1 < argc && strcmp(argv[a], "--count") == 0) {
      count = strtol(argv[++a], NULL, 10);
    } else if (argv[a][0] != '-' && !model_path) {
      model_path = argv[a];
    } else if (argv[a][0] != '-' && !images_path) {
      images_path = argv[a];
    } else {
      usage();
      return 2;
    }
  }
  if (!model_path || !images_path || count < 1 || count > 100000) {
    usage();
    return 2;
  }

  if (!ok(dlrt_model_load(model_path, &model), "loading the model")) goto done;
  if (weights_path && !ok(dlrt_load_weights(model, weights_path), "loading weights")) goto done;
  if (!ok(dlrt_model_batch(model, &batch), "batch")) goto done;

  /* predict must take exactly one input, the batch of examples. */
  if (!ok(dlrt_entry_input_count(model, "predict", &n_inputs), "predict")) goto done;
  if (n_inputs != 1) {
    fprintf(stderr, "embed_c: %s: predict takes %zu inputs; this example feeds one (the DATA input)\n", model_path,
            n_inputs);
    goto done;
  }
  if (!ok(dlrt_entry_input(model, "predict", 0, &x_info), "predict input")) goto done;
  if (x_info.role != DLRT_ROLE_DATA || x_info.dtype != DLRT_F32 || x_info.rank < 2 || x_info.dims[0] != batch) {
    fprintf(stderr, "embed_c: %s: predict's input '%s' is not a batch of f32 examples\n", model_path, x_info.name);
    goto done;
  }
  features = (long)(x_info.numel / batch);

  /* Its first output: the class probabilities, [batch, classes]. */
  if (!ok(dlrt_entry_output_count(model, "predict", &n_outputs), "predict")) goto done;
  if (n_outputs < 1 || !ok(dlrt_entry_output(model, "predict", 0, &probs_info), "predict output")) goto done;
  if (probs_info.dtype != DLRT_F32 || probs_info.rank != 2 || probs_info.dims[0] != batch) {
    fprintf(stderr, "embed_c: %s: predict's output '%s' is not a batch of f32 class probabilities\n", model_path,
            probs_info.name);
    goto done;
  }
  classes = (long)probs_info.dims[1];

  images = read_idx(images_path, 3, count, &image_size);
  if (!images) goto done;
  if (image_size != features) {
    fprintf(stderr, "embed_c: %s: images of %ld pixels, but '%s' takes %ld values per example\n", images_path,
            image_size, x_info.name, features);
    goto done;
  }
  if (labels_path && !(labels = read_idx(labels_path, 1, count, &label_size))) goto done;

  x = malloc((size_t)x_info.numel * sizeof(float));
  probs = malloc((size_t)probs_info.numel * sizeof(float));
  if (!x || !probs) {
    fprintf(stderr, "embed_c: out of memory\n");
    goto done;
  }
  /* The executable runs whole batches: the last one is padded with zeros. */
  for (start = 0; start < count; start += (long)batch) {
    long rows = count - start < (long)batch ? count - start : (long)batch;
    dlrt_input in;
    dlrt_output out;
    memset(x, 0, (size_t)x_info.numel * sizeof(float));
    for (r = 0; r < rows; ++r)
      for (c = 0; c < features; ++c) x[r * features + c] = images[(start + r) * features + c] / 255.0f;
    in.name = x_info.name;
    in.dtype = DLRT_F32;
    in.data = x;
    in.numel = x_info.numel;
    out.name = probs_info.name;
    out.dtype = DLRT_F32;
    out.data = probs;
    out.numel = probs_info.numel;
    if (!ok(dlrt_run(model, "predict", &in, 1, &out, 1), "predict")) goto done;

    for (r = 0; r < rows; ++r) {
      const float* p = probs + r * classes;
      long best = 0;
      for (c = 1; c < classes; ++c)
        if (p[c] > p[best]) best = c;
      printf("image %ld: class %ld (%s), probability %.3f", start + r, best,
             classes == 10 ? kClassNames[best] : "?", p[best]);
      if (labels) {
        printf(", label %d", labels[start + r]);
        correct += labels[start + r] == best;
      }
      printf("\n");
    }
  }
  if (labels) printf("correct: %d of %ld\n", correct, count);
  exit_code = 0;

done:
  free(x);
  free(probs);
  free(images);
  free(labels);
  dlrt_model_free(model);
  return exit_code;
}
