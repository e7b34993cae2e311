// The C API (aat/aat.h) over the C++ framework; plugins' ops are found and run by name.
// Every entry point runs inside guarded(): no exception leaves, every error is reported as an
// aat_status plus the thread's last error message.
#include "aat/aat.h"

#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <type_traits>

#include "aat/aat.hpp"
#include "aat/op_run.hpp"
#include "aat/plugin.hpp"
#include "embed.hpp"

struct aat_op {
  const aat::PluginOp* op = nullptr;
  std::string signature_json;
};

struct aat_context {
  std::shared_ptr<aat::Context> context;
  // The plugins' ops, found on first use; the registry keeps their libraries loaded.
  std::mutex registry_mutex;
  std::optional<aat::PluginRegistry> registry;
  std::deque<aat_op> ops;

  const std::deque<aat_op>& found_ops() {
    std::lock_guard lock(registry_mutex);
    if (!registry) {
      registry = aat::PluginRegistry::discover();
      for (const aat::PluginOp* op : registry->ops()) ops.push_back({op, op->signature.to_json()});
    }
    return ops;
  }
};

struct aat_tensor {
  std::shared_ptr<aat::Context> context;
  aat::Tensor tensor;
};

struct aat_kernel {
  std::shared_ptr<aat::Context> context;
  aat::Kernel kernel;
};

namespace {

thread_local std::string last_error;

aat_status status_of(aat::ErrorCode code) {
  using aat::ErrorCode;
  switch (code) {
    case ErrorCode::invalid_argument: return AAT_ERROR_INVALID_ARGUMENT;
    case ErrorCode::not_found: return AAT_ERROR_NOT_FOUND;
    case ErrorCode::io: return AAT_ERROR_IO;
    case ErrorCode::parse: return AAT_ERROR_PARSE;
    case ErrorCode::shader_compile: return AAT_ERROR_SHADER_COMPILE;
    case ErrorCode::reflection: return AAT_ERROR_REFLECTION;
    case ErrorCode::size_mismatch: return AAT_ERROR_SIZE_MISMATCH;
    case ErrorCode::type_mismatch: return AAT_ERROR_TYPE_MISMATCH;
    case ErrorCode::unsupported: return AAT_ERROR_UNSUPPORTED;
    case ErrorCode::no_device: return AAT_ERROR_NO_DEVICE;
    case ErrorCode::out_of_memory: return AAT_ERROR_OUT_OF_MEMORY;
    case ErrorCode::vulkan: return AAT_ERROR_VULKAN;
    case ErrorCode::validation: return AAT_ERROR_VALIDATION;
    case ErrorCode::abi_mismatch: return AAT_ERROR_ABI_MISMATCH;
    case ErrorCode::plugin: return AAT_ERROR_PLUGIN;
    case ErrorCode::timeout: return AAT_ERROR_TIMEOUT;
    case ErrorCode::internal: return AAT_ERROR_INTERNAL;
  }
  return AAT_ERROR_INTERNAL;
}

aat_status report(aat_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

aat_status report(const aat::Error& error) { return report(status_of(error.code()), error.what()); }

template <class T>
aat_status report(const aat::Expected<T>& failed) {
  return report(failed.error());
}

aat_status invalid(const char* function, const char* what) {
  return report(AAT_ERROR_INVALID_ARGUMENT, std::string(function) + ": " + what);
}

template <class Body>
aat_status guarded(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return report(AAT_ERROR_OUT_OF_MEMORY, std::string(function) + ": out of host memory");
  } catch (const std::exception& e) {
    return report(AAT_ERROR_INTERNAL, std::string(function) + ": unexpected exception: " + e.what());
  } catch (...) {
    return report(AAT_ERROR_INTERNAL, std::string(function) + ": unexpected exception");
  }
}

// A C caller can pass any int where an enum is expected; in C++ a value outside the enumerators'
// range is not a value of the enum and loading it is undefined (UBSan: "load of value 9, which
// is not a valid value for type 'aat_dtype'"), so enums from C are checked as their bytes.
template <class E>
std::underlying_type_t<E> raw_enum(const E& value) {
  std::underlying_type_t<E> raw;
  std::memcpy(&raw, &value, sizeof raw);
  return raw;
}

bool valid_dtype(const aat_dtype& dtype) {
  const auto raw = raw_enum(dtype);
  return raw == AAT_F32 || raw == AAT_F16 || raw == AAT_I32 || raw == AAT_U8;
}

aat::DType to_dtype(aat_dtype dtype) {
  switch (dtype) {
    case AAT_F16: return aat::DType::f16;
    case AAT_I32: return aat::DType::i32;
    case AAT_U8: return aat::DType::u8;
    case AAT_F32: break;
  }
  return aat::DType::f32;
}

aat_dtype from_dtype(aat::DType dtype) {
  switch (dtype) {
    case aat::DType::f16: return AAT_F16;
    case aat::DType::i32: return AAT_I32;
    case aat::DType::u8: return AAT_U8;
    case aat::DType::f32: break;
  }
  return AAT_F32;
}

// Converts C values; `what` names the list in messages ("push", "spec").
aat::Expected<std::vector<aat::NamedValue>> to_values(const aat_value* values, size_t count, const char* what) {
  std::vector<aat::NamedValue> out;
  if (count && !values) return aat::fail(aat::ErrorCode::invalid_argument, std::string(what) + ": NULL array with a count");
  for (size_t i = 0; i < count; ++i) {
    const aat_value& v = values[i];
    if (!v.name || !*v.name)
      return aat::fail(aat::ErrorCode::invalid_argument, std::string(what) + " value " + std::to_string(i) + " has no name");
    aat::NamedValue named;
    named.name = v.name;
    switch (raw_enum(v.kind)) {
      case AAT_VALUE_TEXT:
        if (!v.text)
          return aat::fail(aat::ErrorCode::invalid_argument, std::string(what) + " value '" + v.name + "': NULL text");
        named.text = v.text;
        break;
      case AAT_VALUE_INT: named.values.emplace_back(std::int64_t{v.i}); break;
      case AAT_VALUE_FLOAT: named.values.emplace_back(v.f); break;
      case AAT_VALUE_BOOL: named.values.emplace_back(v.i != 0); break;
      default:
        return aat::fail(aat::ErrorCode::invalid_argument,
                         std::string(what) + " value '" + v.name + "': unknown kind " + std::to_string(raw_enum(v.kind)));
    }
    out.push_back(std::move(named));
  }
  return out;
}

// An op parameter from a C value.
aat::Expected<aat::OpValue> to_op_value(const aat_value& v, size_t index) {
  const std::string what = "parameter " + std::to_string(index);
  switch (raw_enum(v.kind)) {
    case AAT_VALUE_TEXT:
      if (!v.text) return aat::fail(aat::ErrorCode::invalid_argument, what + " ('" + v.name + "'): NULL text");
      return aat::OpValue(std::string(v.text));
    case AAT_VALUE_INT: return aat::OpValue(std::int64_t{v.i});
    case AAT_VALUE_FLOAT: return aat::OpValue(v.f);
    case AAT_VALUE_BOOL: return aat::OpValue(v.i != 0);
    default:
      return aat::fail(aat::ErrorCode::invalid_argument,
                       what + " ('" + v.name + "'): unknown kind " + std::to_string(raw_enum(v.kind)));
  }
}

aat_status make_kernel(aat_context* context, aat::Expected<aat::Spirv> spirv, std::string name, const aat_value* spec,
                       size_t spec_count, aat_kernel** kernel) {
  if (!spirv) return report(spirv);
  auto values = to_values(spec, spec_count, "spec");
  if (!values) return report(values);
  auto created = aat::create_kernel(context->context, std::move(*spirv), std::move(name), *values);
  if (!created) return report(created);
  *kernel = new aat_kernel{context->context, std::move(*created)};
  return AAT_OK;
}

}  // namespace

extern "C" {

const char* aat_last_error_message(void) { return last_error.c_str(); }

const char* aat_status_string(aat_status status) {
  if (status == AAT_OK) return "ok";
  if (status < AAT_ERROR_INVALID_ARGUMENT || status > AAT_ERROR_INTERNAL) return "unknown";
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all(AAT_ERROR_INTERNAL);
    for (int code = 0; code <= static_cast<int>(aat::ErrorCode::internal); ++code) {
      const auto error_code = static_cast<aat::ErrorCode>(code);
      all[static_cast<std::size_t>(status_of(error_code)) - 1] = to_string(error_code);
    }
    return all;
  }();
  return names[static_cast<std::size_t>(status) - 1].c_str();
}

const char* aat_version(void) {
  static const std::string version(aat::version());
  return version.c_str();
}

aat_status aat_device_count(size_t* count) {
  return guarded("aat_device_count", [&] {
    if (!count) return invalid("aat_device_count", "count is NULL");
    auto devices = aat::Context::enumerate_devices();
    if (!devices) return report(devices);
    *count = devices->size();
    return AAT_OK;
  });
}

aat_status aat_device_name(size_t index, char* name, size_t capacity) {
  return guarded("aat_device_name", [&] {
    if (!name || capacity == 0) return invalid("aat_device_name", "name is NULL or capacity is 0");
    auto devices = aat::Context::enumerate_devices();
    if (!devices) return report(devices);
    if (index >= devices->size())
      return report(AAT_ERROR_NOT_FOUND, "aat_device_name: no device " + std::to_string(index) + " (there are " +
                                             std::to_string(devices->size()) + ")");
    const std::string& text = (*devices)[index].name;
    const size_t n = std::min(text.size(), capacity - 1);
    std::memcpy(name, text.data(), n);
    name[n] = '\0';
    return AAT_OK;
  });
}

aat_status aat_context_create(const char* device, aat_context** context) {
  return guarded("aat_context_create", [&] {
    if (!context) return invalid("aat_context_create", "context is NULL");
    aat::ContextOptions options;
    if (device) options.device = device;
    auto created = aat::Context::create(options);
    if (!created) return report(created);
    auto handle = std::make_unique<aat_context>();
    handle->context = std::move(*created);
    *context = handle.release();
    return AAT_OK;
  });
}

aat_status aat_context_destroy(aat_context* context) {
  return guarded("aat_context_destroy", [&] {
    delete context;
    return AAT_OK;
  });
}

aat_status aat_context_device_name(const aat_context* context, const char** name) {
  return guarded("aat_context_device_name", [&] {
    if (!context || !name) return invalid("aat_context_device_name", "context or name is NULL");
    *name = context->context->device().name.c_str();
    return AAT_OK;
  });
}

aat_status aat_context_check_validation(aat_context* context) {
  return guarded("aat_context_check_validation", [&] {
    if (!context) return invalid("aat_context_check_validation", "context is NULL");
    const auto messages = context->context->take_validation_messages();
    if (messages.empty()) return AAT_OK;
    std::string text = "the validation layer reported " + std::to_string(messages.size()) + " message(s):";
    for (const auto& m : messages) text += "\n  " + m;
    return report(AAT_ERROR_VALIDATION, std::move(text));
  });
}

aat_status aat_tensor_create(aat_context* context, aat_dtype dtype, const int64_t* shape, size_t rank,
                             aat_tensor** tensor) {
  return guarded("aat_tensor_create", [&] {
    if (!context || !tensor || (rank && !shape)) return invalid("aat_tensor_create", "context, shape or tensor is NULL");
    if (!valid_dtype(dtype)) return invalid("aat_tensor_create", "unknown dtype");
    if (rank > 8) return invalid("aat_tensor_create", "rank above 8");
    std::vector<std::int64_t> dims(shape, shape + rank);
    auto created = aat::Tensor::create(context->context, to_dtype(dtype), dims);
    if (!created) return report(created);
    auto stream = aat::Stream::create(context->context);
    if (!stream) return report(stream);
    if (auto filled = stream->fill(created->buffer()); !filled) return report(filled);
    if (auto ran = stream->run(); !ran) return report(ran);
    *tensor = new aat_tensor{context->context, std::move(*created)};
    return AAT_OK;
  });
}

aat_status aat_tensor_destroy(aat_tensor* tensor) {
  return guarded("aat_tensor_destroy", [&] {
    delete tensor;
    return AAT_OK;
  });
}

aat_status aat_tensor_upload(aat_tensor* tensor, const void* data, size_t bytes) {
  return guarded("aat_tensor_upload", [&] {
    if (!tensor || (bytes && !data)) return invalid("aat_tensor_upload", "tensor or data is NULL");
    if (bytes != tensor->tensor.byte_size())
      return report(AAT_ERROR_SIZE_MISMATCH, "aat_tensor_upload: " + tensor->tensor.describe() + " holds " +
                                                 std::to_string(tensor->tensor.byte_size()) + " bytes, got " +
                                                 std::to_string(bytes));
    auto done = tensor->tensor.upload({static_cast<const std::byte*>(data), bytes});
    return done ? AAT_OK : report(done);
  });
}

aat_status aat_tensor_download(const aat_tensor* tensor, void* data, size_t bytes) {
  return guarded("aat_tensor_download", [&] {
    if (!tensor || (bytes && !data)) return invalid("aat_tensor_download", "tensor or data is NULL");
    if (bytes != tensor->tensor.byte_size())
      return report(AAT_ERROR_SIZE_MISMATCH, "aat_tensor_download: " + tensor->tensor.describe() + " holds " +
                                                 std::to_string(tensor->tensor.byte_size()) + " bytes, got room for " +
                                                 std::to_string(bytes));
    if (bytes == 0) return AAT_OK;
    auto done = tensor->tensor.buffer().read({static_cast<std::byte*>(data), bytes});
    return done ? AAT_OK : report(done);
  });
}

aat_status aat_tensor_dtype(const aat_tensor* tensor, aat_dtype* dtype) {
  return guarded("aat_tensor_dtype", [&] {
    if (!tensor || !dtype) return invalid("aat_tensor_dtype", "tensor or dtype is NULL");
    *dtype = from_dtype(tensor->tensor.dtype());
    return AAT_OK;
  });
}

aat_status aat_tensor_bytes(const aat_tensor* tensor, size_t* bytes) {
  return guarded("aat_tensor_bytes", [&] {
    if (!tensor || !bytes) return invalid("aat_tensor_bytes", "tensor or bytes is NULL");
    *bytes = static_cast<size_t>(tensor->tensor.byte_size());
    return AAT_OK;
  });
}

aat_status aat_tensor_shape(const aat_tensor* tensor, int64_t* shape, size_t capacity, size_t* rank) {
  return guarded("aat_tensor_shape", [&] {
    if (!tensor || !rank) return invalid("aat_tensor_shape", "tensor or rank is NULL");
    const auto& dims = tensor->tensor.shape();
    if (shape)
      for (size_t i = 0; i < std::min(capacity, dims.size()); ++i) shape[i] = dims[i];
    *rank = dims.size();
    return AAT_OK;
  });
}

aat_status aat_kernel_from_file(aat_context* context, const char* path, const aat_value* spec, size_t spec_count,
                                aat_kernel** kernel) {
  return guarded("aat_kernel_from_file", [&] {
    if (!context || !path || !kernel) return invalid("aat_kernel_from_file", "context, path or kernel is NULL");
    const std::filesystem::path file(path);
    return make_kernel(context, aat::embed::load_shader(context->context, file), file.stem().string(), spec,
                       spec_count, kernel);
  });
}

aat_status aat_kernel_from_source(aat_context* context, const char* glsl, const char* name, const aat_value* spec,
                                  size_t spec_count, aat_kernel** kernel) {
  return guarded("aat_kernel_from_source", [&] {
    if (!context || !glsl || !kernel) return invalid("aat_kernel_from_source", "context, glsl or kernel is NULL");
    const std::string label = name && *name ? name : "shader.comp";
    aat::ShaderCompiler compiler(context->context->cache_dir());
    auto spirv = compiler.compile(glsl, label);
    return make_kernel(context, std::move(spirv), std::filesystem::path(label).stem().string(), spec, spec_count,
                       kernel);
  });
}

aat_status aat_kernel_destroy(aat_kernel* kernel) {
  return guarded("aat_kernel_destroy", [&] {
    delete kernel;
    return AAT_OK;
  });
}

aat_status aat_kernel_local_size(const aat_kernel* kernel, uint32_t local_size[3]) {
  return guarded("aat_kernel_local_size", [&] {
    if (!kernel || !local_size) return invalid("aat_kernel_local_size", "kernel or local_size is NULL");
    const auto size = kernel->kernel.local_size();
    for (int i = 0; i < 3; ++i) local_size[i] = size[static_cast<std::size_t>(i)];
    return AAT_OK;
  });
}

aat_status aat_run_shader(aat_kernel* kernel, const aat_binding* bindings, size_t binding_count, const aat_value* push,
                          size_t push_count, const uint64_t grid[3], double* gpu_ms) {
  return guarded("aat_run_shader", [&] {
    if (!kernel || !grid) return invalid("aat_run_shader", "kernel or grid is NULL");
    if (binding_count && !bindings) return invalid("aat_run_shader", "bindings is NULL with a count");
    aat::Invocation invocation;
    for (size_t i = 0; i < binding_count; ++i) {
      if (!bindings[i].name || !bindings[i].tensor)
        return invalid("aat_run_shader", ("binding " + std::to_string(i) + " has no name or no tensor").c_str());
      if (bindings[i].tensor->context != kernel->context)
        return invalid("aat_run_shader",
                       ("the tensor bound to '" + std::string(bindings[i].name) + "' belongs to another context").c_str());
      invocation.tensors.push_back({bindings[i].name, bindings[i].tensor->tensor});
    }
    auto values = to_values(push, push_count, "push");
    if (!values) return report(values);
    invocation.push = std::move(*values);
    invocation.grid = {grid[0], grid[1], grid[2]};
    auto ran = aat::run_invocation(kernel->context, kernel->kernel, invocation);
    if (!ran) return report(ran);
    if (gpu_ms) *gpu_ms = *ran;
    return AAT_OK;
  });
}

aat_status aat_op_find(aat_context* context, const char* name, const aat_op** op) {
  return guarded("aat_op_find", [&] {
    if (!context || !name || !op) return invalid("aat_op_find", "context, name or op is NULL");
    std::string known;
    for (const aat_op& candidate : context->found_ops()) {
      if (candidate.op->signature.name == name) {
        *op = &candidate;
        return AAT_OK;
      }
      known += (known.empty() ? "'" : ", '") + candidate.op->signature.name + "'";
    }
    std::string problems;
    for (const auto& problem : context->registry->problems()) problems += "; skipped: " + problem.error.what();
    return report(AAT_ERROR_NOT_FOUND, std::string("aat_op_find: no plugin offers the op '") + name + "'; the ops are: " +
                                           (known.empty() ? "none" : known) + problems);
  });
}

aat_status aat_op_count(aat_context* context, size_t* count) {
  return guarded("aat_op_count", [&] {
    if (!context || !count) return invalid("aat_op_count", "context or count is NULL");
    *count = context->found_ops().size();
    return AAT_OK;
  });
}

aat_status aat_op_at(aat_context* context, size_t index, const aat_op** op) {
  return guarded("aat_op_at", [&] {
    if (!context || !op) return invalid("aat_op_at", "context or op is NULL");
    const auto& ops = context->found_ops();
    if (index >= ops.size())
      return report(AAT_ERROR_NOT_FOUND, "aat_op_at: no op " + std::to_string(index) + " (there are " +
                                             std::to_string(ops.size()) + ")");
    *op = &ops[index];
    return AAT_OK;
  });
}

aat_status aat_op_name(const aat_op* op, const char** name) {
  return guarded("aat_op_name", [&] {
    if (!op || !name) return invalid("aat_op_name", "op or name is NULL");
    *name = op->op->signature.name.c_str();
    return AAT_OK;
  });
}

aat_status aat_op_signature(const aat_op* op, const char** json) {
  return guarded("aat_op_signature", [&] {
    if (!op || !json) return invalid("aat_op_signature", "op or json is NULL");
    *json = op->signature_json.c_str();
    return AAT_OK;
  });
}

aat_status aat_op_run(aat_context* context, const aat_op* op, const aat_named_tensor* inputs, size_t input_count,
                      const aat_value* params, size_t param_count, aat_op_output* outputs, size_t output_count,
                      double* gpu_ms) {
  return guarded("aat_op_run", [&] {
    if (!context || !op) return invalid("aat_op_run", "context or op is NULL");
    if ((input_count && !inputs) || (param_count && !params) || (output_count && !outputs))
      return invalid("aat_op_run", "inputs, params or outputs is NULL with a count");
    const aat::OpSignature& signature = op->op->signature;
    aat::OpArguments arguments;
    for (size_t i = 0; i < input_count; ++i) {
      const aat_named_tensor& in = inputs[i];
      if (!in.name || !in.tensor)
        return invalid("aat_op_run", ("input " + std::to_string(i) + (in.name ? " ('" + std::string(in.name) + "')" : "") +
                                      " has no name or no tensor (NULL)").c_str());
      if (in.tensor->context != context->context)
        return invalid("aat_op_run", ("the tensor of input '" + std::string(in.name) + "' belongs to another context").c_str());
      arguments.inputs.emplace_back(in.name, in.tensor->tensor);
    }
    for (size_t i = 0; i < param_count; ++i) {
      if (!params[i].name || !*params[i].name)
        return invalid("aat_op_run", ("parameter " + std::to_string(i) + " has no name").c_str());
      auto value = to_op_value(params[i], i);
      if (!value) return report(value);
      arguments.params.emplace_back(params[i].name, std::move(*value));
    }
    std::vector<std::size_t> wanted;  // index into result outputs, per requested output
    for (size_t i = 0; i < output_count; ++i) {
      if (!outputs[i].name || !outputs[i].tensor)
        return invalid("aat_op_run", ("output " + std::to_string(i) + " has no name or nowhere to go (NULL)").c_str());
      const aat::OpTensorRule* rule = signature.find_tensor(outputs[i].name);
      if (!rule || rule->role != aat::OpRole::output)
        return report(AAT_ERROR_NOT_FOUND, "aat_op_run: op '" + signature.name + "' has no output '" + outputs[i].name +
                                               "'; its outputs are: " + signature.tensor_names(aat::OpRole::output));
      std::size_t index = 0;
      for (const auto& t : signature.tensors) {
        if (&t == rule) break;
        index += t.role == aat::OpRole::output;
      }
      wanted.push_back(index);
    }
    auto ran = aat::run_op(context->context, *op->op, arguments);
    if (!ran) return report(ran);
    std::vector<std::unique_ptr<aat_tensor>> made;
    for (const std::size_t index : wanted)
      made.push_back(std::make_unique<aat_tensor>(aat_tensor{context->context, ran->outputs[index].second}));
    for (size_t i = 0; i < output_count; ++i) *outputs[i].tensor = made[i].release();
    if (gpu_ms) *gpu_ms = ran->gpu_ms;
    return AAT_OK;
  });
}

}  // extern "C"
