/* dlrt: the dlc runtime's C API.
 *
 * Loads an executable written by `dlc compile` (model.dlc), runs its entry
 * points ("predict", "train_step"), reads and writes its parameters, and
 * saves and restores checkpoints (safetensors files). Pure C99; link with
 * -ldlrt.
 *
 * "predict" takes no labels, so a graph output that needs a LABEL input
 * (the loss listed as an output, say) is an output of "train_step" only;
 * asking predict for it is DLRT_INVALID_ARGUMENT with the reason.
 *
 * Conventions:
 *  - Every function that can fail returns a dlrt_status. On failure it sets
 *    the calling thread's error text (dlrt_last_error) to one line naming
 *    the file, entry point, input or parameter at fault, and changes nothing
 *    it was asked to change (a failed checkpoint load leaves the weights as
 *    they were; a failed run leaves the persistent state as it was).
 *  - Out-parameters are written only on success.
 *  - Strings and dims returned by the library are owned by the model and
 *    stay valid until dlrt_model_free, unless a function says otherwise.
 *  - Buffers are plain arrays of elements of the stated dtype, in row-major
 *    (C) order; sizes are element counts, not bytes.
 *  - A model handle may be used from one thread at a time.
 *
 * A typical prediction:
 *
 *   dlrt_model* m;
 *   if (dlrt_model_load("m.dlc", &m) != DLRT_OK) { puts(dlrt_last_error()); return 1; }
 *   dlrt_input in = {"x", DLRT_F32, x, 4 * 784};
 *   dlrt_output out = {"probs", DLRT_F32, y, 4 * 10};
 *   if (dlrt_run(m, "predict", &in, 1, &out, 1) != DLRT_OK) puts(dlrt_last_error());
 *   dlrt_model_free(m);
 */
#ifndef DLRT_H_
#define DLRT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What went wrong; DLRT_OK (0) is success. */
typedef enum dlrt_status {
  DLRT_OK = 0,
  /** A null pointer, an unknown entry point, input, output or parameter
   *  name, an index out of range, or a buffer whose dtype or element count
   *  differs from the signature. */
  DLRT_INVALID_ARGUMENT = 1,
  /** A file cannot be read or written, or is not a valid executable or
   *  checkpoint (truncated, corrupt, wrong version, tensors that do not
   *  match the model). */
  DLRT_FILE_ERROR = 2,
  /** Running failed, or this build cannot run the executable's target. */
  DLRT_RUNTIME_ERROR = 3,
  DLRT_OUT_OF_MEMORY = 4,
  /** A bug in dlrt; the error text says what it hit. */
  DLRT_INTERNAL_ERROR = 5
} dlrt_status;

/** Element types; the values match the executable format's. */
typedef enum dlrt_dtype {
  DLRT_F32 = 1,
  DLRT_F64 = 2,
  DLRT_I32 = 3,
  DLRT_I64 = 4,
  DLRT_BOOL = 5 /* one byte per element, 0 or 1 */
} dlrt_dtype;

/** What a graph input carries, so tools can bind data by role. */
typedef enum dlrt_role {
  DLRT_ROLE_NONE = -1,        /* not a graph input (an output or persistent tensor) */
  DLRT_ROLE_DATA = 0,         /* a batch of examples */
  DLRT_ROLE_LABEL = 1,        /* their labels */
  DLRT_ROLE_LEARNING_RATE = 2, /* scalar f32 */
  DLRT_ROLE_STEP = 3          /* scalar f32: the 1-based number of this update */
} dlrt_role;

/** A loaded executable with its persistent state (parameters and optimizer
 *  state). Opaque. */
typedef struct dlrt_model dlrt_model;

/** A named tensor's description. `name` and `dims` are owned by the model. */
typedef struct dlrt_tensor_info {
  const char* name;
  dlrt_dtype dtype;
  int32_t rank;
  const int64_t* dims; /* `rank` dimensions, all bound (the batch is a number) */
  int64_t numel;       /* product of dims; 1 for a scalar */
  dlrt_role role;      /* graph inputs only; DLRT_ROLE_NONE otherwise */
  int32_t trainable;   /* persistent tensors: 1 when trained, 0 for optimizer state */
} dlrt_tensor_info;

/** An input buffer for dlrt_run. */
typedef struct dlrt_input {
  const char* name;
  dlrt_dtype dtype;  /* must equal the input's dtype */
  const void* data;
  int64_t numel;     /* must equal the input's element count */
} dlrt_input;

/** An output buffer for dlrt_run, filled by the call. */
typedef struct dlrt_output {
  const char* name;
  dlrt_dtype dtype;  /* must equal the output's dtype */
  void* data;
  int64_t numel;     /* must equal the output's element count */
} dlrt_output;

/** A checkpoint metadata entry (e.g. "step" -> "1200", "epoch" -> "3"). */
typedef struct dlrt_metadata {
  const char* key;
  const char* value;
} dlrt_metadata;

/* --- Errors and constants ------------------------------------------------ */

/** The error text of this thread's last failing call; "" before any failure.
 *  Valid until this thread's next failing call. Successful calls leave it. */
const char* dlrt_last_error(void);
/** "ok", "invalid argument", "file error", ... */
const char* dlrt_status_name(dlrt_status status);
/** "f32", "f64", "i32", "i64", "bool"; "?" for other values. */
const char* dlrt_dtype_name(dlrt_dtype dtype);
/** Bytes per element; 0 for other values. */
size_t dlrt_dtype_size(dlrt_dtype dtype);
/** The executable format version this library reads. */
uint32_t dlrt_format_version(void);

/* --- Loading and describing a model -------------------------------------- */

/** Loads and validates an executable and prepares its target's executor;
 *  persistent state starts as the executable's initial parameters.
 *  DLRT_FILE_ERROR for a bad file, DLRT_RUNTIME_ERROR when this build cannot
 *  run its target. The cpu target starts DLC_NUM_THREADS threads (a whole
 *  number in 1..1024; default: one per core, at most 1024); an invalid value,
 *  or threads the system will not start (an address-space or process limit),
 *  is an error naming the variable or the count. */
dlrt_status dlrt_model_load(const char* path, dlrt_model** model);
/** Loads and validates an executable only to describe it (target, batch,
 *  signature, persistent tensors, peak memory): no executor is prepared, so
 *  any machine can inspect any target's file. Running it, or reading or
 *  writing its weights, is DLRT_RUNTIME_ERROR. DLRT_FILE_ERROR for a bad file. */
dlrt_status dlrt_model_inspect(const char* path, dlrt_model** model);
/** Like dlrt_model_load, from the `size` bytes of an executable in memory
 *  (a model embedded in an application, or one just compiled in-process by
 *  the Python package). The bytes are copied; `name` stands for the file in
 *  error texts. */
dlrt_status dlrt_model_load_buffer(const void* data, size_t size, const char* name, dlrt_model** model);
/** Frees a model; a null pointer is ignored. */
void dlrt_model_free(dlrt_model* model);

/** "ref", "cpu" or "cuda". */
dlrt_status dlrt_model_target(const dlrt_model* model, const char** target);
/** The GPU architecture a cuda executable's machine code is for ("sm_90");
 *  "" for other targets. */
dlrt_status dlrt_model_gpu_arch(const dlrt_model* model, const char** arch);
/** The batch size the executable was compiled for: every DATA and LABEL
 *  input leads with it. */
dlrt_status dlrt_model_batch(const dlrt_model* model, int64_t* batch);
/** The seed fixed at compile time (initialization and dropout). */
dlrt_status dlrt_model_seed(const dlrt_model* model, uint64_t* seed);
/** 1 when the model was compiled with --data-parallel (its train_step
 *  averages gradients over the processes of an mpirun launch), else 0. */
dlrt_status dlrt_model_data_parallel(const dlrt_model* model, int* data_parallel);
/** This process's rank and the process count of its data-parallel run
 *  (0 and 1 unless mpirun started it as one of several; then the first call
 *  loads the MPI engine, libdlrt_mpi.so, and fails when it cannot). */
dlrt_status dlrt_process_group(int* rank, int* size);
/** The model's learning rate from its optimizer section; 0 when none. */
dlrt_status dlrt_model_default_learning_rate(const dlrt_model* model, double* learning_rate);
/** The name of the training loss value; "" when the model does not train. */
dlrt_status dlrt_model_loss(const dlrt_model* model, const char** name);
/** Planned peak memory of the executor's arena in bytes; -1 when the
 *  executable records none (the ref target). */
dlrt_status dlrt_model_peak_memory(const dlrt_model* model, int64_t* bytes);

/** The graph's inputs (of all entry points), with their roles. */
dlrt_status dlrt_model_input_count(const dlrt_model* model, size_t* count);
dlrt_status dlrt_model_input(const dlrt_model* model, size_t index, dlrt_tensor_info* info);
/** The graph's outputs (the model's results). */
dlrt_status dlrt_model_output_count(const dlrt_model* model, size_t* count);
dlrt_status dlrt_model_output(const dlrt_model* model, size_t index, dlrt_tensor_info* info);

/* --- Entry points -------------------------------------------------------- */

dlrt_status dlrt_entry_count(const dlrt_model* model, size_t* count);
dlrt_status dlrt_entry_name(const dlrt_model* model, size_t index, const char** name);
/** Sets *present to 1 when the model has entry point `entry`, else 0. */
dlrt_status dlrt_has_entry(const dlrt_model* model, const char* entry, int* present);
/** The inputs an entry point needs, each to be given to dlrt_run. */
dlrt_status dlrt_entry_input_count(const dlrt_model* model, const char* entry, size_t* count);
dlrt_status dlrt_entry_input(const dlrt_model* model, const char* entry, size_t index, dlrt_tensor_info* info);
/** The outputs an entry point computes. */
dlrt_status dlrt_entry_output_count(const dlrt_model* model, const char* entry, size_t* count);
dlrt_status dlrt_entry_output(const dlrt_model* model, const char* entry, size_t index, dlrt_tensor_info* info);
/** How many persistent tensors the entry point updates (0 for "predict"). */
dlrt_status dlrt_entry_update_count(const dlrt_model* model, const char* entry, size_t* count);

/** Runs an entry point. `inputs` must give every input the entry point
 *  lists, once each, with the declared dtype and element count. `outputs`
 *  names the outputs wanted (any subset, possibly none, each once); each is
 *  filled. "train_step" also updates the parameters and optimizer state.
 *  On the cpu target the inputs are read where they lie and the outputs
 *  written straight into the given buffers (no copies), unless a buffer is
 *  not aligned to its element size or an output overlaps another buffer of
 *  the call; the library keeps no pointer to them after the call. */
dlrt_status dlrt_run(dlrt_model* model, const char* entry, const dlrt_input* inputs, size_t num_inputs,
                     dlrt_output* outputs, size_t num_outputs);

/* --- Debugging fusion ----------------------------------------------------- */

/** From now on, the first dlrt_run of each entry point runs kernel by kernel
 *  and compares every value a kernel stores with the float64 reference
 *  interpreter (error |got - want| / max(|want|, 1)). When a kernel exceeds
 *  `tolerance`, that dlrt_run returns DLRT_RUNTIME_ERROR with a text naming
 *  the step, its graph ops, the value and its worst element (the run itself
 *  has happened). DLRT_INVALID_ARGUMENT for the ref target, which runs no
 *  kernels, or a tolerance that is not positive. */
dlrt_status dlrt_model_verify_fusion(dlrt_model* model, double tolerance);
/** One line per entry point verified so far, '\n'-separated ("" if none);
 *  valid until the next call on the model. */
dlrt_status dlrt_model_fusion_report(dlrt_model* model, const char** text);

/* --- Parameters and persistent state ------------------------------------- */

/** Every persistent tensor: trainable parameters and optimizer state. */
dlrt_status dlrt_param_count(const dlrt_model* model, size_t* count);
dlrt_status dlrt_param(const dlrt_model* model, size_t index, dlrt_tensor_info* info);
dlrt_status dlrt_find_param(const dlrt_model* model, const char* name, dlrt_tensor_info* info);
/** Copies a persistent tensor's current value into `data`. */
dlrt_status dlrt_get_param(const dlrt_model* model, const char* name, dlrt_dtype dtype, void* data, int64_t numel);
/** Replaces a persistent tensor's value. */
dlrt_status dlrt_set_param(dlrt_model* model, const char* name, dlrt_dtype dtype, const void* data, int64_t numel);

/* --- Checkpoints (safetensors) ------------------------------------------- */

/** Saves every persistent tensor and the metadata (string keys and values)
 *  to `path` atomically: a temporary file in the same folder, fsync, rename.
 *  A crash or error leaves the previous file at `path` intact. */
dlrt_status dlrt_save_checkpoint(const dlrt_model* model, const char* path, const dlrt_metadata* metadata,
                                 size_t num_metadata);
/** Like dlrt_save_checkpoint without the optimizer's state (moments,
 *  accumulators): the model's weights, i.e. the trained parameters and the
 *  model's own state such as batch-norm running statistics. For a model
 *  imported from ONNX these are PyTorch's state_dict tensors, under their
 *  names and in their layouts. dlrt_load_weights reads the file back. */
dlrt_status dlrt_save_weights(const dlrt_model* model, const char* path, const dlrt_metadata* metadata,
                              size_t num_metadata);
/** Restores every persistent tensor from a checkpoint, which must hold
 *  exactly this model's persistent tensors with their types (for resuming
 *  training). Its metadata becomes readable through dlrt_checkpoint_meta*. */
dlrt_status dlrt_load_checkpoint(dlrt_model* model, const char* path);
/** Like dlrt_load_checkpoint, but only the trainable parameters must be
 *  present; optimizer state is restored when present and other tensors are
 *  ignored (for predicting or evaluating with trained weights). */
dlrt_status dlrt_load_weights(dlrt_model* model, const char* path);
/** The metadata of the last checkpoint loaded into this model, in key order. */
dlrt_status dlrt_checkpoint_meta_count(const dlrt_model* model, size_t* count);
dlrt_status dlrt_checkpoint_meta(const dlrt_model* model, size_t index, const char** key, const char** value);
/** Sets *value to the value of `key`, or to NULL when the key is absent. */
dlrt_status dlrt_checkpoint_meta_get(const dlrt_model* model, const char* key, const char** value);

#ifdef __cplusplus
}
#endif

#endif /* DLRT_H_ */
