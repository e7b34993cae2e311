/* The AAT C API: the framework from C (C99) and from any language with a C FFI.
 *
 * Library: libaat_c.so (CMake: find_package(aat) then aat::c; pkg-config: aat-c). It links
 * libaat.so only: the ops of every plugin (attention, geodesic, ...) are found by name in the
 * plugin folders (AAT_PLUGIN_PATH, then the build's or install's) and run with aat_op_run.
 *
 * Conventions
 *  - Every function returns an aat_status; AAT_OK (0) is success. On any other status the
 *    calling thread's aat_last_error_message() says what went wrong, in the framework's words
 *    (e.g. "kernel 'saxpy' has no binding 'Z'; its bindings are: 'X', 'Y'"). Output
 *    parameters are written only on success. No C++ exception ever crosses this boundary.
 *  - Handles are opaque. Every aat_*_destroy accepts NULL. Tensors and kernels keep their
 *    context alive, so handles may be destroyed in any order.
 *  - Threads: an aat_context, an aat_kernel and an aat_op may be used from several threads at
 *    once (aat_op_run and aat_run_shader record into per-call streams). A tensor may be read by
 *    several threads at once (as an input, or downloaded); writing it (upload, or binding it
 *    as an output) while another thread uses it is a data race, as with plain memory.
 *    See docs/embedding.md.
 */
#ifndef AAT_AAT_H
#define AAT_AAT_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define AAT_C_API
#else
#define AAT_C_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Mirrors aat::ErrorCode (framework/include/aat/error.hpp), offset by one. */
typedef enum aat_status {
  AAT_OK = 0,
  AAT_ERROR_INVALID_ARGUMENT = 1, /* the caller passed something the callee cannot use (NULL included) */
  AAT_ERROR_NOT_FOUND = 2,        /* a named thing (binding, member, file, device) does not exist */
  AAT_ERROR_IO = 3,               /* a file could not be read or written */
  AAT_ERROR_PARSE = 4,            /* malformed text or file (value syntax, SPIR-V) */
  AAT_ERROR_SHADER_COMPILE = 5,   /* GLSL did not compile */
  AAT_ERROR_REFLECTION = 6,       /* SPIR-V could not be reflected */
  AAT_ERROR_SIZE_MISMATCH = 7,    /* a buffer is not the size the kernel expects */
  AAT_ERROR_TYPE_MISMATCH = 8,    /* a value or tensor has the wrong type */
  AAT_ERROR_UNSUPPORTED = 9,      /* valid input this build or device cannot handle */
  AAT_ERROR_NO_DEVICE = 10,       /* no usable Vulkan device */
  AAT_ERROR_OUT_OF_MEMORY = 11,   /* host or device allocation failed */
  AAT_ERROR_VULKAN = 12,          /* any other Vulkan failure */
  AAT_ERROR_VALIDATION = 13,      /* the validation layer reported a problem */
  AAT_ERROR_ABI_MISMATCH = 14,    /* a plugin was built against another ABI version */
  AAT_ERROR_PLUGIN = 15,          /* a plugin could not be loaded or misbehaved */
  AAT_ERROR_TIMEOUT = 16,         /* waiting for the device took too long */
  AAT_ERROR_INTERNAL = 17         /* a bug in AAT */
} aat_status;

/* Element types; f16 tensors hold IEEE binary16 bits (uint16_t on the host). */
typedef enum aat_dtype { AAT_F32 = 0, AAT_F16 = 1, AAT_I32 = 2, AAT_U8 = 3 } aat_dtype;

typedef struct aat_context aat_context;
typedef struct aat_tensor aat_tensor;
typedef struct aat_kernel aat_kernel;

/* ---- errors and version -------------------------------------------------------------- */

/* The message of the most recent failing call made by this thread ("" if none yet).
 * Thread-local; the pointer stays valid until this thread's next failing call. Successful
 * calls leave it unchanged. */
AAT_C_API const char* aat_last_error_message(void);
/* "invalid_argument", "not_found", ...; "ok" for AAT_OK. Static storage. */
AAT_C_API const char* aat_status_string(aat_status status);
/* The project version, e.g. "0.1.0". Static storage. */
AAT_C_API const char* aat_version(void);

/* ---- devices and contexts ------------------------------------------------------------ */

/* How many Vulkan devices the loader sees (index order = what AAT_DEVICE=<index> names). */
AAT_C_API aat_status aat_device_count(size_t* count);
/* Writes device `index`'s name, NUL-terminated and truncated to `capacity` bytes. */
AAT_C_API aat_status aat_device_name(size_t index, char* name, size_t capacity);

/* Opens a device. `device`: an index or a case-insensitive name substring; NULL or "" means
 * the AAT_DEVICE environment variable, else the best device. */
AAT_C_API aat_status aat_context_create(const char* device, aat_context** context);
AAT_C_API aat_status aat_context_destroy(aat_context* context);
/* The chosen device's name; valid as long as the context. */
AAT_C_API aat_status aat_context_device_name(const aat_context* context, const char** name);
/* AAT_ERROR_VALIDATION, with every message in aat_last_error_message(), when the Vulkan
 * validation layer (AAT_VALIDATION=1) reported anything since the last call; else AAT_OK. */
AAT_C_API aat_status aat_context_check_validation(aat_context* context);

/* ---- tensors ------------------------------------------------------------------------- */

/* A zero-filled device tensor, C order. rank 0..8; dimensions >= 0. */
AAT_C_API aat_status aat_tensor_create(aat_context* context, aat_dtype dtype, const int64_t* shape, size_t rank,
                                       aat_tensor** tensor);
AAT_C_API aat_status aat_tensor_destroy(aat_tensor* tensor);
/* Whole-tensor copies; `bytes` must equal aat_tensor_bytes(). */
AAT_C_API aat_status aat_tensor_upload(aat_tensor* tensor, const void* data, size_t bytes);
AAT_C_API aat_status aat_tensor_download(const aat_tensor* tensor, void* data, size_t bytes);
AAT_C_API aat_status aat_tensor_dtype(const aat_tensor* tensor, aat_dtype* dtype);
AAT_C_API aat_status aat_tensor_bytes(const aat_tensor* tensor, size_t* bytes);
/* Writes the rank to *rank and, when shape != NULL, min(rank, capacity) dimensions. */
AAT_C_API aat_status aat_tensor_shape(const aat_tensor* tensor, int64_t* shape, size_t capacity, size_t* rank);

/* ---- values: push constants and specialization constants by name --------------------- */

typedef enum aat_value_kind {
  AAT_VALUE_TEXT = 0,  /* `text`, parsed as the shader's type: "3", "0x10", "1.5", "true", "1,2,3" for vectors */
  AAT_VALUE_INT = 1,   /* `i` */
  AAT_VALUE_FLOAT = 2, /* `f` */
  AAT_VALUE_BOOL = 3   /* `i` != 0 */
} aat_value_kind;

typedef struct aat_value {
  const char* name; /* push-constant member, specialization constant (name or decimal id), or op parameter */
  aat_value_kind kind;
  int64_t i;
  double f;
  const char* text;
} aat_value;

static inline aat_value aat_value_int(const char* name, int64_t v) {
  aat_value value = {name, AAT_VALUE_INT, v, 0.0, NULL};
  return value;
}
static inline aat_value aat_value_float(const char* name, double v) {
  aat_value value = {name, AAT_VALUE_FLOAT, 0, v, NULL};
  return value;
}
static inline aat_value aat_value_text(const char* name, const char* text) {
  aat_value value = {name, AAT_VALUE_TEXT, 0, 0.0, text};
  return value;
}
static inline aat_value aat_value_bool(const char* name, int v) {
  aat_value value = {name, AAT_VALUE_BOOL, v != 0, 0.0, NULL};
  return value;
}

/* ---- shader-only kernels ------------------------------------------------------------- */

/* A kernel from a GLSL compute shader (.comp/.glsl: compiled, with the shader's folder and
 * AAT's shared shader headers on the include path, through the on-disk SPIR-V cache) or a
 * SPIR-V file (.spv). `spec`: specialization constants by name or id (may be NULL when
 * spec_count is 0); local_size_x_id constants change the local size. */
AAT_C_API aat_status aat_kernel_from_file(aat_context* context, const char* path, const aat_value* spec,
                                          size_t spec_count, aat_kernel** kernel);
/* The same from GLSL text; `name` is used in messages. */
AAT_C_API aat_status aat_kernel_from_source(aat_context* context, const char* glsl, const char* name,
                                            const aat_value* spec, size_t spec_count, aat_kernel** kernel);
AAT_C_API aat_status aat_kernel_destroy(aat_kernel* kernel);
AAT_C_API aat_status aat_kernel_local_size(const aat_kernel* kernel, uint32_t local_size[3]);

typedef struct aat_binding {
  const char* name;   /* the shader's binding name (instance name, or block name) */
  aat_tensor* tensor; /* the shader reads and writes it in place */
} aat_binding;

/* Binds every buffer of the kernel by name, sets every push-constant member by name,
 * dispatches enough workgroups to cover `grid` invocations per axis, and waits. Checked
 * before the device is touched: unknown or missing bindings and members, a tensor whose
 * dtype does not fit the block's array type, a tensor smaller than the block. Outputs are
 * the bound tensors: download them afterwards. gpu_ms (may be NULL): the dispatch's GPU
 * time, 0 when the device has no timestamps. */
AAT_C_API aat_status aat_run_shader(aat_kernel* kernel, const aat_binding* bindings, size_t binding_count,
                                    const aat_value* push, size_t push_count, const uint64_t grid[3], double* gpu_ms);

/* ---- ops: what plugins offer, by name ------------------------------------------------ */

/* An op of a plugin: a name and a signature (named input and output tensors, named typed
 * parameters). Found through the context, valid as long as it. */
typedef struct aat_op aat_op;

/* The op `name` (e.g. "attention"), from the plugins found on AAT_PLUGIN_PATH and in the build's
 * or install's plugin folder (loaded on the first call). AAT_ERROR_NOT_FOUND lists the ops. */
AAT_C_API aat_status aat_op_find(aat_context* context, const char* name, const aat_op** op);
/* Every op found: aat_op_count, then aat_op_at for 0 .. count-1. */
AAT_C_API aat_status aat_op_count(aat_context* context, size_t* count);
AAT_C_API aat_status aat_op_at(aat_context* context, size_t index, const aat_op** op);
/* The op's name and its signature as JSON: {"name", "summary", "tensors": [{"name", "role",
 * "dtypes", "rank", "optional", "summary"}], "params": [{"name", "type", "default", "min", "max",
 * "optional", "summary"}]}. Valid as long as the context. */
AAT_C_API aat_status aat_op_name(const aat_op* op, const char** name);
AAT_C_API aat_status aat_op_signature(const aat_op* op, const char** json);

typedef struct aat_named_tensor {
  const char* name;          /* an input of the op's signature */
  const aat_tensor* tensor;
} aat_named_tensor;

typedef struct aat_op_output {
  const char* name;          /* an output of the op's signature */
  aat_tensor** tensor;       /* receives a new tensor (destroy it with aat_tensor_destroy) */
} aat_op_output;

/* Runs the op: inputs by name (an optional input may be left out), parameters by name (the
 * aat_value kinds; text is parsed as the parameter's type; left-out parameters take their
 * defaults), the outputs asked for written to new tensors (others are dropped). Checked before
 * the device is touched: unknown or missing names, dtypes and ranks against the signature,
 * values against the parameter types; then the op's own checks. Waits for the device. gpu_ms
 * (may be NULL): the op's GPU time, 0 when the device has no timestamps. */
AAT_C_API aat_status aat_op_run(aat_context* context, const aat_op* op, const aat_named_tensor* inputs,
                                size_t input_count, const aat_value* params, size_t param_count,
                                aat_op_output* outputs, size_t output_count, double* gpu_ms);

#ifdef __cplusplus
}
#endif

#endif /* AAT_AAT_H */
