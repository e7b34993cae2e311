/* The AAT plugin ABI: what a plugin library exports, as plain C.
 *
 * A plugin is a shared library libaat-<name>.so exporting one symbol,
 *     const aat_plugin_descriptor* aat_plugin_entry(void);
 * returning a descriptor that lives as long as the library is loaded. The host reads
 * abi_version first and refuses any other version before it touches anything else, so
 * this version number must change whenever any struct or function type below changes.
 *
 * No C++ type crosses this boundary. What a plugin offers is a set of ops (aat_plugin_op): a
 * name, a signature (named tensors with dtype and rank rules, named typed parameters), and
 * plan / record (or execute) / finish / destroy functions. The device, streams and tensors
 * reach an op as opaque handles (aat_op_context, aat_op_stream, aat_op_tensor), which the
 * plugin's code turns back into objects only through libaat's own functions (aat/op.hpp), so
 * their layout is known to libaat alone. Commands (argv tools such as input generators) get
 * the same opaque context handle.
 *
 * The same plugin code links statically into a host too: aat_add_plugin() also builds a
 * static library whose descriptor is reached through aat_plugin_<name>_entry() and added
 * with aat::PluginRegistry::add_static(). */
#ifndef AAT_PLUGIN_ABI_H
#define AAT_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: aat::ContextOptions (which plugin commands build and pass to libaat) gained
 *    on_validation_message and allocation_filter.
 * 3: ops (aat_plugin_op) through the descriptor; the command host carries an opaque context
 *    handle instead of a C++ shared_ptr. */
#define AAT_PLUGIN_ABI_VERSION 3u
#define AAT_PLUGIN_ENTRY_SYMBOL "aat_plugin_entry"

/* Opaque handles, defined inside libaat. */
typedef struct aat_op_context aat_op_context; /* a device context */
typedef struct aat_op_stream aat_op_stream;   /* a stream recording commands on that context */
typedef struct aat_op_tensor aat_op_tensor;   /* a device tensor of that context */

/* A kernel the plugin ships: its SPIR-V, embedded at build time. */
typedef struct aat_plugin_kernel {
  const char* name;          /* unique within the plugin, e.g. "attention_forward" */
  const char* source;        /* the GLSL file it was built from, for messages */
  const uint32_t* spirv;     /* SPIR-V words */
  size_t spirv_words;
} aat_plugin_kernel;

/* ---- ops --------------------------------------------------------------------------------- */

/* Element types, as bits: a tensor rule takes a set of them, a tensor description holds one. */
#define AAT_OP_F32 0x1u
#define AAT_OP_F16 0x2u
#define AAT_OP_I32 0x4u
#define AAT_OP_U8 0x8u

#define AAT_OP_INPUT 0u
#define AAT_OP_OUTPUT 1u
/* Flag: an input that may be absent, an output a host need not keep, a parameter that may be
 * left unset (a parameter with a default is always set). */
#define AAT_OP_OPTIONAL 0x1u
/* Flags of a number parameter: its min / max (inclusive) hold. */
#define AAT_OP_HAS_MIN 0x2u
#define AAT_OP_HAS_MAX 0x4u

#define AAT_OP_BOOL 0u  /* value in i (0 or 1) */
#define AAT_OP_INT 1u   /* value in i */
#define AAT_OP_FLOAT 2u /* value in f */
#define AAT_OP_TEXT 3u  /* value in text */

#define AAT_OP_MAX_RANK 8u

/* A plan flag: this plan runs through execute (it cannot be recorded into a caller's stream). */
#define AAT_OP_PLAN_EXECUTES 0x1u

/* A named tensor of the signature. Names: [a-z][a-z0-9_]*, unique among tensors and params. */
typedef struct aat_op_tensor_info {
  const char* name;
  const char* summary;  /* one line: its shape and meaning, e.g. "queries [B, Hq, Nq, D]" */
  uint32_t role;        /* AAT_OP_INPUT or AAT_OP_OUTPUT */
  uint32_t flags;       /* AAT_OP_OPTIONAL */
  uint32_t dtypes;      /* the AAT_OP_F32 | ... it takes (an output: it may have) */
  int32_t rank;         /* the rank it must have, or -1 for any */
} aat_op_tensor_info;

typedef struct aat_op_param_info {
  const char* name;
  const char* summary;
  uint32_t type;              /* AAT_OP_BOOL, AAT_OP_INT, AAT_OP_FLOAT or AAT_OP_TEXT */
  uint32_t flags;             /* AAT_OP_OPTIONAL, AAT_OP_HAS_MIN, AAT_OP_HAS_MAX */
  const char* default_value;  /* as text, parsed as `type`; NULL: none */
  double min;                 /* the range an int or float parameter takes, where flagged */
  double max;
} aat_op_param_info;

/* One tensor of a problem, in signature order: inputs described by the host, outputs by plan(). */
typedef struct aat_op_tensor_desc {
  uint32_t present; /* 0: an absent optional input (or an output plan() did not describe) */
  uint32_t dtype;   /* one AAT_OP_* dtype bit */
  uint32_t rank;
  uint32_t reserved;
  int64_t shape[AAT_OP_MAX_RANK];
} aat_op_tensor_desc;

/* One parameter, in signature order, typed as the signature says. */
typedef struct aat_op_value {
  uint32_t set; /* 0: unset (optional, no default) */
  uint32_t reserved;
  int64_t i;
  double f;
  const char* text;
} aat_op_value;

/* What a failing op function reports. code: the aat_status number of the error (aat/aat.h:
 * an aat::ErrorCode + 1). */
typedef struct aat_op_error {
  uint32_t code;
  char message[4092];
} aat_op_error;

typedef struct aat_plugin_op aat_plugin_op;

/* Every function returns 0, or non-zero with *error filled. `tensors` are in signature order,
 * NULL where an optional input is absent; outputs are allocated by the host as plan() described. */
struct aat_plugin_op {
  const char* name;     /* [a-z0-9_-]+, unique across the plugins a host loads */
  const char* summary;  /* one line */
  const aat_op_tensor_info* tensors;
  size_t tensor_count;
  const aat_op_param_info* params;
  size_t param_count;
  const void* user; /* the plugin's own data for its functions (they get the op back) */
  /* Checks the problem (inputs described, parameters typed) for the context's device, describes
   * every output in `tensors`, and returns a plan that the other functions take, with
   * *plan_flags = AAT_OP_PLAN_EXECUTES where this plan must run through execute. */
  int (*plan)(const aat_plugin_op* op, aat_op_context* context, aat_op_tensor_desc* tensors,
              const aat_op_value* params, void** plan, uint32_t* plan_flags, aat_op_error* error);
  /* Records the plan's work into the caller's stream; nothing is submitted. NULL for an op whose
   * plans all execute. */
  int (*record)(const aat_plugin_op* op, void* plan, aat_op_stream* stream, aat_op_tensor* const* tensors,
                aat_op_error* error);
  /* Runs a plan to completion, submitting as it needs (a host decision between submissions, or
   * work in bounded pieces); adds the GPU time to *gpu_ms. NULL for an op whose plans all record. */
  int (*execute)(const aat_plugin_op* op, void* plan, aat_op_context* context, aat_op_tensor* const* tensors,
                 double* gpu_ms, aat_op_error* error);
  /* After the work ran: a JSON object (text) for hosts to report (tiling, statistics, "notes":
   * [...] printed as notes). May be NULL (no report). *report stays valid until destroy. */
  int (*finish)(const aat_plugin_op* op, void* plan, aat_op_tensor* const* tensors, const char** report,
                aat_op_error* error);
  void (*destroy)(const aat_plugin_op* op, void* plan);
};

/* ---- commands ---------------------------------------------------------------------------- */

/* What the host hands a plugin command. */
typedef struct aat_host {
  uint32_t abi_version;     /* AAT_PLUGIN_ABI_VERSION of the host */
  const char* device;       /* device selector (--device), may be "" */
  aat_op_context* context;  /* the host's context, or NULL: open one on `device` */
} aat_host;

/* A subcommand of `aat run`: `aat run <name> args...`. argv[0] is "aat run <name>".
 * Returns the process exit code; prints its own errors to stderr. */
typedef int (*aat_plugin_command_fn)(const aat_host* host, int argc, const char* const* argv);

typedef struct aat_plugin_command {
  const char* name;
  const char* summary;
  aat_plugin_command_fn run;
} aat_plugin_command;

typedef struct aat_plugin_descriptor {
  uint32_t abi_version;      /* must be first: AAT_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t descriptor_size;  /* sizeof(aat_plugin_descriptor) in the plugin's build */
  const char* name;          /* "attention": [a-z0-9_-]+ */
  const char* version;       /* the plugin's own version, "0.1.0" */
  const char* description;   /* one line */
  const aat_plugin_kernel* kernels;
  size_t kernel_count;
  const aat_plugin_command* commands;
  size_t command_count;
  const aat_plugin_op* ops;
  size_t op_count;
} aat_plugin_descriptor;

typedef const aat_plugin_descriptor* (*aat_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* AAT_PLUGIN_ABI_H */
