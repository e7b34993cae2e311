// Calling an op from a host: arguments checked against the signature once, then the op's C
// table (plan, record or execute, finish, destroy) called with opaque handles.
#include "aat/op_run.hpp"

#include <algorithm>
#include <exception>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "buffer_state.hpp"
#include "op_abi.hpp"

namespace aat {

namespace {

std::string input_where(const OpSignature& op, const OpTensorRule& rule) {
  return rule.summary.empty() ? fmt::format("input '{}' of op '{}'", rule.name, op.name)
                              : fmt::format("input '{}' ({}) of op '{}'", rule.name, rule.summary, op.name);
}

// "op 'geodesic': states must be f32 of rank 2 (initial states [M, 4]), got i32[3x4]"
Error rule_error(ErrorCode code, const OpSignature& op, const OpTensorRule& rule, const Tensor& tensor) {
  return Error(code, fmt::format("op '{}': {} must be {}{}, got {}", op.name, rule.name, rule.describe(),
                                 rule.summary.empty() ? "" : " (" + rule.summary + ")", tensor.describe()));
}

std::string param_label(const OpSignature& op, const OpArguments& arguments, const OpParamRule& param) {
  return arguments.param_label ? arguments.param_label(param)
                               : fmt::format("parameter '{}' of op '{}'", param.name, op.name);
}

// Calls a function of a plugin's table; an exception that escapes it anyway is a plugin error.
template <class Call>
Expected<void> call_plugin(const PluginOp& op, const char* function, Call&& call) {
  aat_op_error error{};
  int status = 0;
  const std::string where = fmt::format("op '{}' (plugin '{}')", op.signature.name, op.plugin);
  try {
    status = call(&error);
  } catch (const std::exception& e) {
    return fail(ErrorCode::plugin, fmt::format("{}: its {} threw an exception: {}", where, function, e.what()));
  } catch (...) {
    return fail(ErrorCode::plugin, fmt::format("{}: its {} threw an exception", where, function));
  }
  if (status != 0) return std::unexpected(detail::from_op_error(error, where + " " + function));
  return {};
}

// The inputs in signature order, each checked against its rule.
Expected<std::vector<Tensor>> bind_inputs(const std::shared_ptr<Context>& context, const OpSignature& op,
                                          const OpArguments& arguments) {
  std::vector<Tensor> tensors(op.tensors.size());
  std::vector<bool> given(op.tensors.size(), false);
  for (const auto& [name, tensor] : arguments.inputs) {
    const OpTensorRule* rule = op.find_tensor(name);
    if (!rule)
      return fail(ErrorCode::not_found, fmt::format("op '{}' has no input '{}'; its inputs are: {}", op.name, name,
                                                    op.tensor_names(OpRole::input)));
    if (rule->role == OpRole::output)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("'{}' is an output of op '{}': the op allocates it (its inputs are: {})", name, op.name,
                              op.tensor_names(OpRole::input)));
    const auto index = static_cast<std::size_t>(rule - op.tensors.data());
    if (given[index]) return fail(ErrorCode::invalid_argument, fmt::format("input '{}' of op '{}' is given twice", name, op.name));
    given[index] = true;
    const std::string where = input_where(op, *rule);
    if (!tensor) return fail(ErrorCode::invalid_argument, where + ": an empty tensor handle");
    if (tensor.buffer().state().context != context->shared_state())
      return fail(ErrorCode::invalid_argument, where + ": the tensor belongs to another context");
    if (!rule->takes(tensor.dtype())) return std::unexpected(rule_error(ErrorCode::type_mismatch, op, *rule, tensor));
    if (rule->rank >= 0 && tensor.rank() != rule->rank)
      return std::unexpected(rule_error(ErrorCode::invalid_argument, op, *rule, tensor));
    if (tensor.rank() > static_cast<std::int64_t>(AAT_OP_MAX_RANK))
      return fail(ErrorCode::unsupported, fmt::format("{} is {}: ops take up to {} dimensions", where, tensor.describe(),
                                                      AAT_OP_MAX_RANK));
    tensors[index] = tensor;
  }
  for (std::size_t i = 0; i < op.tensors.size(); ++i) {
    const OpTensorRule& rule = op.tensors[i];
    if (rule.role == OpRole::input && !rule.optional && !given[i])
      return fail(ErrorCode::not_found, fmt::format("{} is missing (op '{}' takes {})", input_where(op, rule), op.name,
                                                    op.tensor_names(OpRole::input)));
  }
  return tensors;
}

// The parameters in signature order, typed, with defaults.
Expected<std::vector<std::optional<OpValue>>> bind_params(const OpSignature& op, const OpArguments& arguments) {
  std::vector<std::optional<OpValue>> values(op.params.size());
  for (const auto& [name, value] : arguments.params) {
    const OpParamRule* rule = op.find_param(name);
    if (!rule) {
      const bool is_tensor = op.find_tensor(name) != nullptr;
      return fail(ErrorCode::not_found, fmt::format("op '{}' has no parameter '{}'{}; its parameters are: {}", op.name,
                                                    name, is_tensor ? " (it is a tensor)" : "", op.param_names()));
    }
    const auto index = static_cast<std::size_t>(rule - op.params.data());
    if (values[index])
      return fail(ErrorCode::invalid_argument, fmt::format("parameter '{}' of op '{}' is given twice", name, op.name));
    AAT_TRY(values[index], typed_op_value(*rule, value, param_label(op, arguments, *rule)));
  }
  for (std::size_t i = 0; i < op.params.size(); ++i) {
    const OpParamRule& rule = op.params[i];
    if (values[i]) continue;
    if (rule.default_value) {
      AAT_TRY(values[i], typed_op_value(rule, OpValue(*rule.default_value), param_label(op, arguments, rule)));
    } else if (!rule.optional) {
      return fail(ErrorCode::not_found, fmt::format("{} ({}) is missing{}", param_label(op, arguments, rule),
                                                    to_string(rule.type), rule.summary.empty() ? "" : ": " + rule.summary));
    }
  }
  return values;
}

}  // namespace

PlannedOp::PlannedOp(PlannedOp&& other) noexcept
    : context_(std::move(other.context_)),
      op_(other.op_),
      plan_(std::exchange(other.plan_, nullptr)),
      executes_(other.executes_),
      tensors_(std::move(other.tensors_)) {}

PlannedOp& PlannedOp::operator=(PlannedOp&& other) noexcept {
  if (this != &other) {
    if (plan_) op_->table->destroy(op_->table, plan_);
    context_ = std::move(other.context_);
    op_ = other.op_;
    plan_ = std::exchange(other.plan_, nullptr);
    executes_ = other.executes_;
    tensors_ = std::move(other.tensors_);
  }
  return *this;
}

PlannedOp::~PlannedOp() {
  if (plan_) op_->table->destroy(op_->table, plan_);
}

const Tensor& PlannedOp::output(std::string_view name) const {
  const OpTensorRule* rule = op_->signature.find_tensor(name);
  static const Tensor none;
  if (!rule || rule->role != OpRole::output) return none;
  return tensors_[static_cast<std::size_t>(rule - op_->signature.tensors.data())];
}

Expected<PlannedOp> plan_op(const std::shared_ptr<Context>& context, const PluginOp& op, const OpArguments& arguments) {
  if (!context) return fail(ErrorCode::invalid_argument, "plan_op: no context");
  const OpSignature& s = op.signature;
  AAT_TRY(std::vector<Tensor> tensors, bind_inputs(context, s, arguments));
  AAT_TRY(auto values, bind_params(s, arguments));

  std::vector<aat_op_tensor_desc> descs(s.tensors.size());
  for (std::size_t i = 0; i < s.tensors.size(); ++i) {
    if (s.tensors[i].role != OpRole::input || !tensors[i]) continue;
    const Tensor& t = tensors[i];
    descs[i].present = 1;
    descs[i].dtype = detail::dtype_bit(t.dtype());
    descs[i].rank = static_cast<std::uint32_t>(t.rank());
    for (std::size_t d = 0; d < t.shape().size(); ++d) descs[i].shape[d] = t.shape()[d];
  }
  std::vector<aat_op_value> params(s.params.size());
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    if (!values[i]) continue;
    aat_op_value& v = params[i];
    v.set = 1;
    if (const auto* b = std::get_if<bool>(&*values[i])) v.i = *b ? 1 : 0;
    if (const auto* n = std::get_if<std::int64_t>(&*values[i])) v.i = *n;
    if (const auto* f = std::get_if<double>(&*values[i])) v.f = *f;
    if (const auto* t = std::get_if<std::string>(&*values[i])) v.text = t->c_str();
  }

  PlannedOp planned;
  planned.context_ = context;
  planned.op_ = &op;
  aat_op_context handle{context};
  std::uint32_t flags = 0;
  void* plan = nullptr;
  AAT_CHECK(call_plugin(op, "plan", [&](aat_op_error* error) {
    return op.table->plan(op.table, &handle, descs.data(), params.data(), &plan, &flags, error);
  }));
  planned.plan_ = plan;
  planned.executes_ = (flags & AAT_OP_PLAN_EXECUTES) != 0;
  if (planned.executes_ ? !op.table->execute : !op.table->record)
    return fail(ErrorCode::plugin, fmt::format("op '{}': its plan {} but the op has no {} function", s.name,
                                               planned.executes_ ? "executes" : "records",
                                               planned.executes_ ? "execute" : "record"));

  // The outputs the plan describes, checked against their rules (the plugin is not trusted).
  for (std::size_t i = 0; i < s.tensors.size(); ++i) {
    const OpTensorRule& rule = s.tensors[i];
    if (rule.role != OpRole::output) continue;
    const aat_op_tensor_desc& d = descs[i];
    const auto dtype = detail::dtype_of_bit(d.dtype);
    if (!d.present || !dtype || !rule.takes(*dtype) || d.rank > AAT_OP_MAX_RANK ||
        (rule.rank >= 0 && d.rank != static_cast<std::uint32_t>(rule.rank)))
      return fail(ErrorCode::plugin, fmt::format("op '{}' described its output '{}' against its own rule ({})", s.name,
                                                 rule.name, rule.describe()));
    std::vector<std::int64_t> shape(d.shape, d.shape + d.rank);
    AAT_TRY(tensors[i], with_context(Tensor::create(context, *dtype, shape),
                                     fmt::format("allocating output '{}' of op '{}'", rule.name, s.name)));
  }
  planned.tensors_ = std::move(tensors);
  return planned;
}

namespace {

// The opaque tensor handles of a call, in signature order (null where absent).
struct TensorHandles {
  std::vector<aat_op_tensor> storage;
  std::vector<aat_op_tensor*> pointers;
  explicit TensorHandles(const std::vector<Tensor>& tensors) : storage(tensors.size()), pointers(tensors.size(), nullptr) {
    for (std::size_t i = 0; i < tensors.size(); ++i)
      if (tensors[i]) {
        storage[i].tensor = tensors[i];
        pointers[i] = &storage[i];
      }
  }
};

}  // namespace

Expected<void> PlannedOp::record(Stream& stream) {
  if (executes_)
    return fail(ErrorCode::unsupported, fmt::format("op '{}': this plan submits its own work (it runs in pieces the "
                                                    "host waits between), so it cannot be recorded into a stream: "
                                                    "run it", op_->signature.name));
  TensorHandles handles(tensors_);
  aat_op_stream handle{&stream};
  return call_plugin(*op_, "record", [&](aat_op_error* error) {
    return op_->table->record(op_->table, plan_, &handle, handles.pointers.data(), error);
  });
}

Expected<double> PlannedOp::run() {
  if (executes_) {
    TensorHandles handles(tensors_);
    aat_op_context handle{context_};
    double gpu_ms = 0;
    AAT_CHECK(call_plugin(*op_, "execute", [&](aat_op_error* error) {
      return op_->table->execute(op_->table, plan_, &handle, handles.pointers.data(), &gpu_ms, error);
    }));
    return gpu_ms;
  }
  AAT_TRY(Stream stream, Stream::create(context_));
  AAT_CHECK(record(stream));
  AAT_CHECK(stream.run());
  return stream.total_gpu_ms();
}

Expected<std::string> PlannedOp::finish() {
  if (!op_->table->finish) return std::string("{}");
  TensorHandles handles(tensors_);
  const char* report = nullptr;
  AAT_CHECK(call_plugin(*op_, "finish", [&](aat_op_error* error) {
    return op_->table->finish(op_->table, plan_, handles.pointers.data(), &report, error);
  }));
  if (!report) return std::string("{}");
  const std::string text(report);
  if (!nlohmann::json::accept(text))
    return fail(ErrorCode::plugin, fmt::format("op '{}': its report is not JSON", op_->signature.name));
  return text;
}

Expected<OpResult> run_op(const std::shared_ptr<Context>& context, const PluginOp& op, const OpArguments& arguments) {
  AAT_TRY(PlannedOp planned, plan_op(context, op, arguments));
  OpResult result;
  AAT_TRY(result.gpu_ms, planned.run());
  AAT_TRY(result.report, planned.finish());
  for (std::size_t i = 0; i < op.signature.tensors.size(); ++i)
    if (op.signature.tensors[i].role == OpRole::output)
      result.outputs.emplace_back(op.signature.tensors[i].name, planned.tensors()[i]);
  return result;
}

}  // namespace aat
