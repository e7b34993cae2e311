/* The AAT plugin ABI: what a plugin library exports, as plain C.
 *
 * A plugin is a shared library libaat-<name>.so exporting one symbol,
 *     const aat_plugin_descriptor* aat_plugin_entry(void);
 * returning a descriptor that lives as long as the library is loaded. The host reads
 * abi_version first and refuses any other version before it touches anything else, so
 * this version number must change whenever any struct below or any C++ type that crosses
 * the boundary (aat::Context, through aat_host) changes layout.
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
 *    on_validation_message and allocation_filter. */
#define AAT_PLUGIN_ABI_VERSION 2u
#define AAT_PLUGIN_ENTRY_SYMBOL "aat_plugin_entry"

/* A kernel the plugin ships: its SPIR-V, embedded at build time. */
typedef struct aat_plugin_kernel {
  const char* name;          /* unique within the plugin, e.g. "attention_forward" */
  const char* source;        /* the GLSL file it was built from, for messages */
  const uint32_t* spirv;     /* SPIR-V words */
  size_t spirv_words;
} aat_plugin_kernel;

/* What the host hands a plugin command. */
typedef struct aat_host {
  uint32_t abi_version;      /* AAT_PLUGIN_ABI_VERSION of the host */
  const char* device;        /* device selector (--device), may be "" */
  void* context;             /* std::shared_ptr<aat::Context>*, or NULL: create one from `device` */
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
} aat_plugin_descriptor;

typedef const aat_plugin_descriptor* (*aat_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* AAT_PLUGIN_ABI_H */
