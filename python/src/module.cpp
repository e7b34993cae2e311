// The Python module `aat` (its compiled half, aat._aat; python/aat/__init__.py is the rest).
//
// NumPy arrays in and out: an input array's memory is uploaded straight into the device buffer
// and a result is downloaded straight into a new array's memory (no other copies; a
// non-contiguous input is made contiguous first). Device work runs with the GIL released, so
// Python threads can run kernels concurrently on one context. Errors raise aat.Error (a
// RuntimeError) whose text is the framework's message and whose .code names the ErrorCode.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "aat/aat.hpp"
#include "aat/op_run.hpp"
#include "aat/plugin.hpp"
#include "embed.hpp"


namespace py = pybind11;

namespace {

// ---- errors ----------------------------------------------------------------------------

struct FrameworkError : std::exception {
  explicit FrameworkError(aat::Error e) : error(std::move(e)), text(error.what()) {}
  const char* what() const noexcept override { return text.c_str(); }
  aat::Error error;
  std::string text;
};

template <class T>
T take(aat::Expected<T>&& result) {
  if (!result) throw FrameworkError(std::move(result.error()));
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

PyObject* error_class = nullptr;  // aat.Error, created at import

// ---- contexts ----------------------------------------------------------------------------

// A context (its kernel cache keeps the pipelines every call builds, for the next).
struct ContextHandle {
  std::shared_ptr<aat::Context> context;
};
using ContextPtr = std::shared_ptr<ContextHandle>;

ContextPtr make_context(const std::string& device, bool robust_buffer_access) {
  aat::ContextOptions options;
  options.device = device;
  options.robust_buffer_access = robust_buffer_access;
  auto ctx = std::make_shared<ContextHandle>();
  {
    py::gil_scoped_release nogil;
    auto created = aat::Context::create(options);
    if (!created) throw FrameworkError(std::move(created.error()));
    ctx->context = std::move(*created);
  }
  return ctx;
}

std::mutex default_mutex;
ContextPtr default_ctx;
ContextPtr default_robust_ctx;

// The default context (AAT_DEVICE, else the best device), opened on first use. The GIL stays
// held while it is created, so two threads never race to create it.
ContextPtr default_context() {
  std::lock_guard lock(default_mutex);
  if (!default_ctx) default_ctx = make_context("", false);
  return default_ctx;
}

// The context aat.run uses when given none: the default device with robust buffer access, so a
// shader indexing past an array reads 0 (or a value of that array) instead of other memory.
ContextPtr default_robust_context() {
  std::lock_guard lock(default_mutex);
  if (!default_robust_ctx) default_robust_ctx = make_context("", true);
  return default_robust_ctx;
}

ContextPtr context_or_default(const std::optional<ContextPtr>& context) {
  return context && *context ? *context : default_context();
}

py::dict device_dict(const aat::DeviceInfo& d) {
  py::dict out;
  out["index"] = d.index;
  out["name"] = d.name;
  out["type"] = std::string(aat::to_string(d.type));
  out["vendor_id"] = d.vendor_id;
  out["device_id"] = d.device_id;
  out["api_version"] = d.api_version_string();
  out["driver"] = d.driver_name;
  out["driver_info"] = d.driver_info;
  py::dict limits;
  limits["max_shared_memory_bytes"] = d.limits.max_shared_memory_bytes;
  limits["max_workgroup_invocations"] = d.limits.max_workgroup_invocations;
  limits["subgroup_size"] = d.limits.subgroup_size;
  limits["device_local_bytes"] = d.limits.device_local_bytes;
  limits["compute_units"] = d.limits.compute_units;
  out["limits"] = limits;
  py::dict features;
  features["shader_float16"] = d.features.shader_float16;
  features["storage_buffer_16bit"] = d.features.storage_buffer_16bit;
  features["subgroup_size_control"] = d.features.subgroup_size_control;
  features["cooperative_matrix_nv"] = d.features.cooperative_matrix_nv;
  out["features"] = features;
  return out;
}

py::list devices() {
  std::vector<aat::DeviceInfo> all;
  {
    py::gil_scoped_release nogil;
    auto listed = aat::Context::enumerate_devices();
    if (!listed) throw FrameworkError(std::move(listed.error()));
    all = std::move(*listed);
  }
  const auto chosen = aat::Context::choose_device(all, "");
  py::list out;
  for (const auto& d : all) {
    py::dict entry = device_dict(d);
    entry["default"] = chosen.has_value() && *chosen == d.index;
    out.append(entry);
  }
  return out;
}

// ---- arrays ----------------------------------------------------------------------------

// A C-contiguous NumPy array viewed as bytes (keeps the array alive; GIL needed to copy/destroy).
struct NumpyView {
  py::array array;
  aat::DType dtype = aat::DType::f32;
  std::vector<std::int64_t> shape;
  const std::byte* data = nullptr;
  std::size_t bytes = 0;
};

std::optional<aat::DType> dtype_of(const py::dtype& dt) {
  if (dt.byteorder() == '>') return std::nullopt;
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 4) return aat::DType::f32;
  if (kind == 'f' && size == 2) return aat::DType::f16;
  if (kind == 'i' && size == 4) return aat::DType::i32;
  if (kind == 'u' && size == 1) return aat::DType::u8;
  return std::nullopt;
}

py::dtype numpy_dtype(aat::DType dtype) {
  switch (dtype) {
    case aat::DType::f16: return py::dtype("float16");
    case aat::DType::i32: return py::dtype("int32");
    case aat::DType::u8: return py::dtype("uint8");
    case aat::DType::f32: break;
  }
  return py::dtype("float32");
}

std::string dtype_name(const py::dtype& dt) { return py::str(static_cast<const py::object&>(dt)); }

std::string type_name(py::handle object) {
  return py::str(py::type::handle_of(object).attr("__qualname__")).cast<std::string>();
}

// `object` as a NumPy array, sharing its memory where it can:
//  - a NumPy array as it is;
//  - a DLPack producer (a torch.Tensor, a CuPy or JAX array...) through numpy.from_dlpack, when its
//    memory is the CPU's; a tensor that requires grad is refused (AAT computes no gradients);
//  - anything else np.asarray takes (an object with __array__, a buffer such as a memoryview or
//    array.array) with its own dtype;
//  - a (nested) list or tuple of Python numbers, whose floats become float32 and whose ints become
//    int32 (Python numbers have no width; AAT's kernels take 32-bit values).
// Errors name the argument and the type, never the contents.
py::array as_numpy(py::handle object, const std::string& what) {
  if (py::isinstance<py::array>(object)) return py::reinterpret_borrow<py::array>(object);
  const auto numpy = py::module_::import("numpy");
  if (py::hasattr(object, "__dlpack__")) {
    if (py::hasattr(object, "requires_grad") && py::bool_(object.attr("requires_grad")))
      throw py::type_error(what + ": the " + type_name(object) + " requires grad, and AAT computes no gradients: pass " +
                           "tensor.detach()");
    if (py::hasattr(object, "__dlpack_device__")) {
      const auto device = object.attr("__dlpack_device__")().cast<py::tuple>();
      if (device.size() >= 1 && device[0].cast<int>() != 1)  // kDLCPU
        throw py::type_error(what + ": the " + type_name(object) + " lives on a device other than the CPU (DLPack "
                             "device type " + std::to_string(device[0].cast<int>()) + "); AAT runs on its own Vulkan " +
                             "device and reads host memory: pass tensor.cpu()");
    }
    try {
      return numpy.attr("from_dlpack")(object).cast<py::array>();
    } catch (py::error_already_set& e) {
      std::string reason = e.what();
      reason = reason.substr(0, reason.find('\n'));
      const std::string dtype = py::hasattr(object, "dtype") ? std::string(py::str(object.attr("dtype"))) : "?";
      throw py::type_error(what + ": the " + type_name(object) + " (dtype " + dtype + ") cannot be read through " +
                           "DLPack: " + reason + "; AAT takes float32, float16, int32 and uint8");
    }
  }
  const bool python_sequence = PyList_Check(object.ptr()) || PyTuple_Check(object.ptr());
  py::array array = py::array::ensure(object);
  if (!array || array.dtype().kind() == 'O' || array.dtype().kind() == 'U' || array.dtype().kind() == 'S')
    throw py::type_error(what + ": expected an array (a NumPy array, a CPU torch tensor, anything with __array__ or " +
                         "__dlpack__, a buffer such as a memoryview, or a nested list of numbers), got " +
                         type_name(object));
  if (python_sequence) {
    if (array.dtype().kind() == 'f') array = array.attr("astype")(numpy.attr("float32")).cast<py::array>();
    if (array.dtype().kind() == 'i' && array.dtype().itemsize() > 4) {
      const auto int32 = numpy.attr("iinfo")(numpy.attr("int32"));
      const auto outside = numpy.attr("logical_or")(numpy.attr("less")(array, int32.attr("min")),
                                                    numpy.attr("greater")(array, int32.attr("max")));
      if (py::bool_(numpy.attr("any")(outside)))
        throw py::value_error(what + ": a list of integers outside the int32 range");
      array = array.attr("astype")(numpy.attr("int32")).cast<py::array>();
    }
  }
  return array;
}

NumpyView numpy_view(py::handle object, const std::string& what, std::optional<aat::DType> required = {}) {
  NumpyView h;
  h.array = as_numpy(object, what);
  if (!(h.array.flags() & py::array::c_style))
    h.array = py::module_::import("numpy").attr("ascontiguousarray")(h.array).cast<py::array>();
  const auto dtype = dtype_of(h.array.dtype());
  if (!dtype)
    throw py::type_error(what + ": dtype " + dtype_name(h.array.dtype()) +
                         " is not supported; use float32, float16, int32 or uint8 (e.g. x.astype(np.float32))");
  if (required && *dtype != *required)
    throw py::type_error(what + ": expected " + dtype_name(numpy_dtype(*required)) + ", got " +
                         dtype_name(h.array.dtype()));
  h.dtype = *dtype;
  for (py::ssize_t i = 0; i < h.array.ndim(); ++i) h.shape.push_back(static_cast<std::int64_t>(h.array.shape(i)));
  h.data = static_cast<const std::byte*>(h.array.data());
  h.bytes = static_cast<std::size_t>(h.array.nbytes());
  return h;
}

// Device tensor with the array's contents: one copy, host memory -> device (call without the GIL).
aat::Tensor upload(const std::shared_ptr<aat::Context>& context, const NumpyView& h, const std::string& what) {
  auto tensor = take(aat::with_context(aat::Tensor::create(context, h.dtype, h.shape), "allocating " + what));
  take(aat::with_context(tensor.upload({h.data, h.bytes}), "uploading " + what));
  return tensor;
}

py::array empty_like(const aat::Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array(numpy_dtype(t.dtype()), shape);
}

// Device -> the array's memory (call without the GIL).
void download_into(const aat::Tensor& t, py::array& array, const std::string& what) {
  if (t.byte_size() == 0) return;
  auto* data = static_cast<std::byte*>(array.mutable_data());
  take(aat::with_context(t.buffer().read({data, static_cast<std::size_t>(t.byte_size())}), "downloading " + what));
}

py::array download(const aat::Tensor& t, const std::string& what) {
  py::array out = empty_like(t);
  py::gil_scoped_release nogil;
  download_into(t, out, what);
  return out;
}


// ---- shader-only kernels -----------------------------------------------------------------

// A push or spec value: bool, int, float, str (parsed as the shader's type), or a sequence.
void append_value(py::handle item, std::vector<aat::Value>& values, const std::string& what) {
  if (py::isinstance<py::bool_>(item) || py::isinstance(item, py::module_::import("numpy").attr("bool_"))) {
    values.emplace_back(item.cast<bool>());
  } else if (PyIndex_Check(item.ptr())) {
    values.emplace_back(static_cast<std::int64_t>(py::int_(py::reinterpret_borrow<py::object>(item)).cast<long long>()));
  } else if (PyFloat_Check(item.ptr()) || py::hasattr(item, "__float__")) {
    values.emplace_back(py::float_(py::reinterpret_borrow<py::object>(item)).cast<double>());
  } else {
    throw py::type_error(what + ": expected a bool, int, float or str, got " +
                         std::string(py::str(py::type::of(item).attr("__name__"))));
  }
}

aat::NamedValue named_value(const std::string& name, py::handle value, const std::string& what) {
  aat::NamedValue named;
  named.name = name;
  const std::string where = what + " '" + name + "'";
  if (py::isinstance<py::str>(value)) {
    named.text = value.cast<std::string>();
  } else if (py::isinstance<py::sequence>(value) || py::isinstance<py::array>(value)) {
    for (py::handle item : py::iter(value)) append_value(item, named.values, where);
  } else {
    append_value(value, named.values, where);
  }
  return named;
}

std::vector<aat::NamedValue> named_values(const py::object& dict, const std::string& what) {
  std::vector<aat::NamedValue> out;
  if (dict.is_none()) return out;
  for (auto [key, value] : dict.cast<py::dict>()) out.push_back(named_value(py::str(key), value, what));
  return out;
}

std::array<std::uint64_t, 3> to_grid(const py::object& grid) {
  std::array<std::uint64_t, 3> out{1, 1, 1};
  if (PyIndex_Check(grid.ptr())) {
    out[0] = grid.cast<std::uint64_t>();
    return out;
  }
  const auto items = grid.cast<std::vector<std::uint64_t>>();
  if (items.empty() || items.size() > 3) throw py::value_error("grid: give 1 to 3 invocation counts");
  for (std::size_t i = 0; i < items.size(); ++i) out[i] = items[i];
  return out;
}

// aat.run(shader, ...): the arrays run through run_shader, which checks the request (the one
// invocation path) before anything is uploaded, and uploads each array from NumPy's memory
// (`held` keeps the arrays, and any contiguous copies made of them, alive until it returns).
py::dict run(const std::string& shader, py::dict bindings, py::object outputs, py::object push, py::object spec,
             py::object grid, std::optional<ContextPtr> context) {
  const ContextPtr ctx = context && *context ? *context : default_robust_context();
  aat::ShaderRunRequest request;
  std::vector<NumpyView> held;
  held.reserve(bindings.size());
  for (auto [key, value] : bindings) {
    const std::string name = py::str(key);
    const NumpyView& view = held.emplace_back(numpy_view(value, "binding '" + name + "'"));
    request.inputs.emplace_back(name, aat::HostArrayView(view.dtype, view.shape, {view.data, view.bytes}));
  }
  if (!outputs.is_none()) {
    if (py::isinstance<py::dict>(outputs)) {
      for (auto [key, value] : outputs.cast<py::dict>()) {
        aat::ShaderOutput o{py::str(key), {}, {}};
        if (!value.is_none()) {
          const auto pair = value.cast<py::tuple>();
          if (pair.size() != 2) throw py::value_error("output '" + o.binding + "': give None or (shape, dtype)");
          o.shape = pair[0].cast<std::vector<std::int64_t>>();
          const py::dtype dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(pair[1]));
          o.dtype = dtype_of(dt);
          if (!o.dtype)
            throw py::type_error("output '" + o.binding + "': dtype " + dtype_name(dt) +
                                 " is not supported; use float32, float16, int32 or uint8");
        }
        request.outputs.push_back(std::move(o));
      }
    } else {
      for (py::handle name : py::iter(outputs)) request.outputs.push_back({py::str(name), {}, {}});
    }
  }
  // Python's own argument rule (a ValueError, as for a malformed entry): an output that is not
  // in bindings must say what to allocate. Everything else run_shader checks.
  for (const auto& o : request.outputs) {
    const bool input = std::any_of(request.inputs.begin(), request.inputs.end(),
                                   [&](const auto& i) { return i.first == o.binding; });
    if (!input && (!o.dtype || !o.shape))
      throw py::value_error("output '" + o.binding + "' is not in bindings, so it needs (shape, dtype) to be allocated");
  }
  request.push = named_values(push, "push constant");
  request.spec = named_values(spec, "specialization constant");
  request.grid = to_grid(grid);
  request.kernel_name = std::filesystem::path(shader).stem().string();

  aat::ShaderRunResult result;
  {
    py::gil_scoped_release nogil;
    request.spirv = take(aat::embed::load_shader(ctx->context, shader));
    result = take(aat::run_shader(ctx->context, request));
  }
  py::dict out;
  for (const auto& [name, array] : result.outputs) {
    std::vector<py::ssize_t> shape(array.shape.begin(), array.shape.end());
    py::array copy(numpy_dtype(array.dtype), shape);
    if (!array.data.empty()) std::memcpy(copy.mutable_data(), array.data.data(), array.data.size());
    out[py::str(name)] = copy;
  }
  return out;
}

// ---- plugins: ops and commands ------------------------------------------------------------

std::mutex registry_mutex;

// Loaded on first use and never changed after: ops are run from several threads without a lock.
const aat::PluginRegistry& registry() {
  static const aat::PluginRegistry loaded = aat::PluginRegistry::discover();
  return loaded;
}

py::list ops() {
  const auto json = py::module_::import("json");
  py::list out;
  for (const aat::PluginOp* op : registry().ops()) {
    py::dict entry = json.attr("loads")(op->signature.to_json());
    entry["plugin"] = op->plugin;
    out.append(entry);
  }
  return out;
}

const aat::PluginOp& find_op(const std::string& name) {
  if (const aat::PluginOp* op = registry().find_op(name)) return *op;
  std::string known;
  for (const aat::PluginOp* op : registry().ops()) known += (known.empty() ? "'" : ", '") + op->signature.name + "'";
  throw FrameworkError(aat::Error(aat::ErrorCode::not_found, "no plugin offers the op '" + name + "'; the ops are: " +
                                                                 (known.empty() ? std::string("none") : known)));
}

// A parameter from Python: bool, int (NumPy integers too), float, or str (parsed as the type).
aat::OpValue op_value(py::handle value, const std::string& what) {
  if (py::isinstance<py::bool_>(value) || py::isinstance(value, py::module_::import("numpy").attr("bool_")))
    return value.cast<bool>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (PyIndex_Check(value.ptr()))
    return static_cast<std::int64_t>(py::int_(py::reinterpret_borrow<py::object>(value)).cast<long long>());
  if (PyFloat_Check(value.ptr()) || py::hasattr(value, "__float__"))
    return py::float_(py::reinterpret_borrow<py::object>(value)).cast<double>();
  throw py::type_error(what + ": expected a bool, int, float or str, got " + type_name(value));
}

// An input array for a tensor rule: integer arrays become the int32 a rule taking only i32 wants
// (values checked to fit), anything else is passed as it is and checked against the rule.
NumpyView op_input(py::handle value, const aat::OpTensorRule& rule) {
  py::array array = as_numpy(value, rule.name);
  const char kind = array.dtype().kind();
  if ((kind == 'i' || kind == 'u') && rule.takes(aat::DType::i32) && !rule.takes(dtype_of(array.dtype()).value_or(aat::DType::f32))) {
    const auto numpy = py::module_::import("numpy");
    const auto int32 = numpy.attr("iinfo")(numpy.attr("int32"));
    if (array.size() > 0 && (py::bool_(numpy.attr("any")(numpy.attr("less")(array, int32.attr("min")))) ||
                             py::bool_(numpy.attr("any")(numpy.attr("greater")(array, int32.attr("max"))))))
      throw py::value_error(rule.name + ": integers outside the int32 range");
    array = array.attr("astype")(numpy.attr("int32")).cast<py::array>();
  }
  return numpy_view(array, rule.name);
}

// Runs an op by name: tensors and parameters from one dict, by the op's signature. Returns
// ({output name: array}, report dict with gpu_ms).
py::tuple run_op(const std::string& name, py::dict arguments, std::optional<ContextPtr> context) {
  const ContextPtr ctx = context_or_default(context);
  const aat::PluginOp& op = find_op(name);
  const aat::OpSignature& s = op.signature;
  std::vector<std::pair<std::string, NumpyView>> arrays;
  aat::OpArguments args;
  for (auto [key, value] : arguments) {
    const std::string argument = py::str(key);
    if (value.is_none()) continue;  // an optional input or parameter left out
    if (const aat::OpTensorRule* rule = s.find_tensor(argument)) {
      if (rule->role == aat::OpRole::output)
        throw FrameworkError(aat::Error(aat::ErrorCode::invalid_argument,
                                        "'" + argument + "' is an output of op '" + name + "': the op allocates it"));
      arrays.emplace_back(argument, op_input(value, *rule));
    } else if (s.find_param(argument)) {
      args.params.emplace_back(argument, op_value(value, argument));
    } else {
      throw FrameworkError(aat::Error(aat::ErrorCode::not_found,
                                      "op '" + name + "' has no input or parameter '" + argument + "'; its inputs are " +
                                          s.tensor_names(aat::OpRole::input) + ", its parameters " + s.param_names()));
    }
  }
  aat::OpResult result;
  {
    py::gil_scoped_release nogil;
    for (const auto& [argument, h] : arrays) args.inputs.emplace_back(argument, upload(ctx->context, h, argument));
    result = take(aat::run_op(ctx->context, op, args));
  }
  py::dict outputs;
  for (const auto& [output, tensor] : result.outputs) outputs[py::str(output)] = download(tensor, output);
  py::dict report = py::module_::import("json").attr("loads")(result.report);
  report["gpu_ms"] = result.gpu_ms;
  return py::make_tuple(outputs, report);
}

py::list plugins() {
  std::lock_guard lock(registry_mutex);
  py::list out;
  for (const auto& p : registry().plugins()) {
    py::dict entry;
    entry["name"] = p.name;
    entry["version"] = p.version;
    entry["description"] = p.description;
    entry["path"] = p.path.string();
    py::list commands;
    for (const auto& c : p.commands) commands.append(c.name);
    entry["commands"] = commands;
    py::list kernels;
    for (const auto& k : p.kernels) kernels.append(k.name);
    entry["kernels"] = kernels;
    out.append(entry);
  }
  return out;
}

// Reads what was written to a temporary file standing in for fd.
std::string read_all(std::FILE* file) {
  std::string text;
  std::fflush(file);
  std::rewind(file);
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, file)) text.append(buffer, n);
  return text;
}

// `aat run <command> args...` in this process, on the context; stdout and stderr captured.
py::tuple run_command(const std::string& command, const std::vector<std::string>& args,
                      std::optional<ContextPtr> context) {
  const ContextPtr ctx = context_or_default(context);
  std::lock_guard lock(registry_mutex);
  const aat::Plugin* owner = nullptr;
  const aat::PluginCommand* found = registry().find_command(command, &owner);
  if (!found) {
    std::string known;
    for (const auto& p : registry().plugins())
      for (const auto& c : p.commands) known += (known.empty() ? "" : ", ") + c.name;
    throw FrameworkError(aat::Error(aat::ErrorCode::not_found,
                                    "no plugin offers the command '" + command + "'; available: " +
                                        (known.empty() ? std::string("none") : known)));
  }
  std::vector<std::string> storage{"aat run " + command};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& s : storage) argv.push_back(s.c_str());
  const aat::OpContextHandle shared(ctx->context);
  const aat_host host{AAT_PLUGIN_ABI_VERSION, "", shared.get()};

  int code = 0;
  std::string out_text, err_text;
  {
    py::gil_scoped_release nogil;
    std::FILE* out_file = std::tmpfile();
    std::FILE* err_file = std::tmpfile();
    if (!out_file || !err_file) throw std::runtime_error("run_command: cannot create temporary files");
    std::fflush(stdout);
    std::fflush(stderr);
    const int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(out_file), 1);
    dup2(fileno(err_file), 2);
    code = found->run(&host, static_cast<int>(argv.size()), argv.data());
    std::fflush(stdout);
    std::fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    out_text = read_all(out_file);
    err_text = read_all(err_file);
    std::fclose(out_file);
    std::fclose(err_file);
  }
  return py::make_tuple(code, out_text, err_text);
}

}  // namespace

PYBIND11_MODULE(_aat, m) {
  m.doc() = "AAT: attention and geometric kernels on any Vulkan device (compiled part; import aat)";

  // Leaked on purpose: the type must outlive every translator call, up to interpreter exit.
  auto* error = new py::exception<FrameworkError>(m, "Error", PyExc_RuntimeError);
  error_class = error->ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const FrameworkError& e) {
      py::object instance = py::reinterpret_borrow<py::object>(error_class)(e.text);
      instance.attr("code") = std::string(aat::to_string(e.error.code()));
      PyErr_SetObject(error_class, instance.ptr());
    }
  });

  m.def("version", [] { return std::string(aat::version()); });
  m.def("devices", &devices, "Every Vulkan device: a list of dicts; 'default' marks the one AAT picks.");

  py::class_<ContextHandle, ContextPtr>(m, "Context", "A Vulkan device opened for AAT; share it freely across threads.")
      .def(py::init(&make_context), py::arg("device") = "", py::arg("robust_buffer_access") = false,
           "device: index or name substring; '' = AAT_DEVICE, else the best device. robust_buffer_access: "
           "enable the device's robustBufferAccess where offered (reads past a buffer give 0 or a value "
           "inside it, writes never leave it)")
      .def_property_readonly("robust_buffer_access",
                             [](const ContextHandle& c) { return c.context->device().features.robust_buffer_access; })
      .def_property_readonly("device", [](const ContextHandle& c) { return device_dict(c.context->device()); })
      .def_property_readonly("name", [](const ContextHandle& c) { return c.context->device().name; })
      .def_property_readonly("validation", [](const ContextHandle& c) { return c.context->validation_enabled(); })
      .def("take_validation_messages", [](ContextHandle& c) { return c.context->take_validation_messages(); })
      .def("memory_stats", [](const ContextHandle& c) {
        const auto s = c.context->memory_stats();
        py::dict d;
        d["live_bytes"] = s.live_bytes;
        d["peak_bytes"] = s.peak_bytes;
        d["reserved_bytes"] = s.reserved_bytes;
        d["live_buffers"] = s.live_buffers;
        return d;
      })
      .def("__repr__", [](const ContextHandle& c) { return "<aat.Context " + c.context->device().name + ">"; });

  m.def("_as_numpy", [](py::handle object, const std::string& what) { return as_numpy(object, what); },
        py::arg("object"), py::arg("what"),
        "object as a NumPy array the way every aat function reads its array arguments (for aat's Python half).");
  m.def("default_context", &default_context, "The context module functions use when given none (opened on first use).");
  m.def("_reset_default_context", [] {
    std::lock_guard lock(default_mutex);
    default_ctx.reset();
    default_robust_ctx.reset();
  });

  m.def("run_shader", &run, py::arg("shader"), py::arg("bindings"), py::arg("outputs") = py::none(),
        py::arg("push") = py::none(), py::arg("spec") = py::none(), py::arg("grid") = 1,
        py::arg("context") = py::none(),
        R"doc(Runs a compute shader (GLSL .comp, or .spv) with no C++ written for it.

bindings: {binding name: array} uploaded and bound by the shader's names.
outputs: {name: None} reads an input back after the dispatch; {name: (shape, dtype)} allocates a
zero-filled array for a binding that is no input. A list of input names works too.
push: {member: value} push constants (bool, int, float, a sequence for vectors/arrays, or text
parsed as the shader's type). spec: {name or id: value} specialization constants.
grid: invocations per axis (int or up to 3 ints); ceil(grid / local size) workgroups run.
context: default a context on the default device with robust buffer access (reads past the end
of an array give 0 on lavapipe, or a value inside that array elsewhere; writes never leave it).
Returns {output name: array}.)doc");
  m.def("plugins", &plugins, "Plugins the registry finds (AAT_PLUGIN_PATH, then the build's or install's folder).");
  m.def("ops", &ops, "Every op the plugins offer: a list of signatures (name, summary, tensors, params, plugin).");
  m.def("run_op", &run_op, py::arg("name"), py::arg("arguments"), py::arg("context") = py::none(),
        "Runs the op `name` with its tensors and parameters from the dict `arguments`; returns "
        "(outputs dict, report dict).");
  m.def("run_command", &run_command, py::arg("command"), py::arg("args"), py::arg("context") = py::none(),
        "Runs `aat run <command> args...` in this process; returns (exit_code, stdout, stderr).");
}
