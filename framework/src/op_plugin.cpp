// Writing ops in a plugin: what plan(), record() and finish() see, and the C table (with the
// functions every op shares) that a plugin's descriptor exports.
#include <exception>
#include <new>

#include <fmt/format.h>

#include "aat/value.hpp"
#include "op_abi.hpp"

namespace aat {

// ---- OpProblem ------------------------------------------------------------------------------

OpProblem::OpProblem(const OpSignature& signature, aat_op_tensor_desc* tensors, const aat_op_value* params)
    : signature_(signature), tensors_(tensors), params_(params) {}

std::size_t OpProblem::tensor_index(std::string_view name, OpRole role) const {
  for (std::size_t i = 0; i < signature_.tensors.size(); ++i)
    if (signature_.tensors[i].name == name && signature_.tensors[i].role == role) return i;
  // A name the plugin's own code misspelt: a bug in the plugin, reported as such by the table.
  throw std::invalid_argument(fmt::format("op '{}' has no {} tensor '{}'", signature_.name, to_string(role), name));
}

std::optional<TensorDesc> OpProblem::input(std::string_view name) const {
  const aat_op_tensor_desc& d = tensors_[tensor_index(name, OpRole::input)];
  if (!d.present) return std::nullopt;
  TensorDesc out;
  out.dtype = detail::dtype_of_bit(d.dtype).value_or(DType::f32);
  out.shape.assign(d.shape, d.shape + d.rank);
  return out;
}

const aat_op_value* OpProblem::param(std::string_view name, OpParamType type) const {
  for (std::size_t i = 0; i < signature_.params.size(); ++i)
    if (signature_.params[i].name == name) {
      if (signature_.params[i].type != type)
        throw std::invalid_argument(fmt::format("parameter '{}' of op '{}' is {}, read as {}", name, signature_.name,
                                                to_string(signature_.params[i].type), to_string(type)));
      return params_[i].set ? &params_[i] : nullptr;
    }
  throw std::invalid_argument(fmt::format("op '{}' has no parameter '{}'", signature_.name, name));
}

bool OpProblem::flag(std::string_view name) const {
  const aat_op_value* v = param(name, OpParamType::boolean);
  return v && v->i != 0;
}

std::optional<std::int64_t> OpProblem::integer(std::string_view name) const {
  const aat_op_value* v = param(name, OpParamType::integer);
  return v ? std::optional(v->i) : std::nullopt;
}

std::optional<double> OpProblem::number(std::string_view name) const {
  const aat_op_value* v = param(name, OpParamType::number);
  return v ? std::optional(v->f) : std::nullopt;
}

std::optional<std::string> OpProblem::text(std::string_view name) const {
  const aat_op_value* v = param(name, OpParamType::text);
  return v && v->text ? std::optional<std::string>(v->text) : std::nullopt;
}

Expected<void> OpProblem::describe_output(std::string_view name, DType dtype, std::vector<std::int64_t> shape) {
  const std::size_t index = tensor_index(name, OpRole::output);
  const OpTensorRule& rule = signature_.tensors[index];
  if (!rule.takes(dtype) || shape.size() > AAT_OP_MAX_RANK || (rule.rank >= 0 && std::ssize(shape) != rule.rank))
    return fail(ErrorCode::internal, fmt::format("op '{}' describes output '{}' as {}[{}], which its rule ({}) does "
                                                 "not take", signature_.name, name, to_string(dtype),
                                                 shape_to_string(shape), rule.describe()));
  aat_op_tensor_desc& d = tensors_[index];
  d.present = 1;
  d.dtype = detail::dtype_bit(dtype);
  d.rank = static_cast<std::uint32_t>(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) d.shape[i] = shape[i];
  return {};
}

// ---- OpTensors and OpPlan -------------------------------------------------------------------

const Tensor* OpTensors::find(std::string_view name) const {
  for (std::size_t i = 0; i < signature_.tensors.size(); ++i)
    if (signature_.tensors[i].name == name) return tensors_[i];
  throw std::invalid_argument(fmt::format("op '{}' has no tensor '{}'", signature_.name, name));
}

const Tensor& OpTensors::operator[](std::string_view name) const {
  const Tensor* t = find(name);
  if (!t) throw std::invalid_argument(fmt::format("tensor '{}' of op '{}' is absent", name, signature_.name));
  return *t;
}

Expected<void> OpPlan::record(Stream&, const OpTensors&) {
  return fail(ErrorCode::unsupported, "this op's plan submits its own work: run it instead of recording it");
}

Expected<double> OpPlan::execute(const std::shared_ptr<Context>&, const OpTensors&) {
  return fail(ErrorCode::internal, "the op's plan says it executes, but it has no execute()");
}

Expected<std::string> OpPlan::finish(const OpTensors&) { return std::string("{}"); }

// ---- the C table ----------------------------------------------------------------------------

namespace {

// What the C table keeps per plan: the plugin's plan and the report finish() returned.
struct PlanBox {
  std::unique_ptr<OpPlan> plan;
  std::string report;
};

const OpDefinition& definition_of(const aat_plugin_op* op) { return *static_cast<const OpDefinition*>(op->user); }

// Runs body() and turns every error and exception into the C error: nothing is thrown out
// through the table.
template <class Body>
int guarded(const aat_plugin_op* op, aat_op_error* error, Body&& body) noexcept {
  try {
    const Expected<void> done = body();
    if (done) return 0;
    detail::to_op_error(done.error(), error);
  } catch (const std::bad_alloc&) {
    detail::to_op_error(Error(ErrorCode::out_of_memory, fmt::format("op '{}': out of host memory", op->name)), error);
  } catch (const std::exception& e) {
    detail::to_op_error(Error(ErrorCode::plugin, fmt::format("op '{}' threw an exception: {}", op->name, e.what())),
                        error);
  } catch (...) {
    detail::to_op_error(Error(ErrorCode::plugin, fmt::format("op '{}' threw an exception", op->name)), error);
  }
  return 1;
}

std::vector<const Tensor*> tensors_of(const OpSignature& signature, aat_op_tensor* const* handles) {
  std::vector<const Tensor*> out(signature.tensors.size(), nullptr);
  for (std::size_t i = 0; i < out.size(); ++i)
    if (handles[i]) out[i] = &tensor_of(handles[i]);
  return out;
}

int plan_entry(const aat_plugin_op* op, aat_op_context* context, aat_op_tensor_desc* tensors,
               const aat_op_value* params, void** plan, std::uint32_t* plan_flags, aat_op_error* error) {
  return guarded(op, error, [&]() -> Expected<void> {
    const OpDefinition& d = definition_of(op);
    OpProblem problem(d.signature, tensors, params);
    AAT_TRY(auto made, d.plan(context_of(context), problem));
    for (std::size_t i = 0; i < d.signature.tensors.size(); ++i)
      if (d.signature.tensors[i].role == OpRole::output && !tensors[i].present)
        return fail(ErrorCode::internal, fmt::format("op '{}' planned without describing output '{}'", d.signature.name,
                                                     d.signature.tensors[i].name));
    *plan_flags = made->executes() ? AAT_OP_PLAN_EXECUTES : 0u;
    *plan = new PlanBox{std::move(made), {}};
    return {};
  });
}

int record_entry(const aat_plugin_op* op, void* plan, aat_op_stream* stream, aat_op_tensor* const* tensors,
                 aat_op_error* error) {
  return guarded(op, error, [&]() -> Expected<void> {
    const OpDefinition& d = definition_of(op);
    return static_cast<PlanBox*>(plan)->plan->record(stream_of(stream), OpTensors(d.signature, tensors_of(d.signature, tensors)));
  });
}

int execute_entry(const aat_plugin_op* op, void* plan, aat_op_context* context, aat_op_tensor* const* tensors,
                  double* gpu_ms, aat_op_error* error) {
  return guarded(op, error, [&]() -> Expected<void> {
    const OpDefinition& d = definition_of(op);
    AAT_TRY(const double ms, static_cast<PlanBox*>(plan)->plan->execute(
                                 context_of(context), OpTensors(d.signature, tensors_of(d.signature, tensors))));
    *gpu_ms += ms;
    return {};
  });
}

int finish_entry(const aat_plugin_op* op, void* plan, aat_op_tensor* const* tensors, const char** report,
                 aat_op_error* error) {
  return guarded(op, error, [&]() -> Expected<void> {
    const OpDefinition& d = definition_of(op);
    auto* box = static_cast<PlanBox*>(plan);
    AAT_TRY(box->report, box->plan->finish(OpTensors(d.signature, tensors_of(d.signature, tensors))));
    *report = box->report.c_str();
    return {};
  });
}

void destroy_entry(const aat_plugin_op*, void* plan) { delete static_cast<PlanBox*>(plan); }

}  // namespace

OpTable::OpTable(std::vector<const OpDefinition*> definitions) {
  tensors_.reserve(definitions.size());
  params_.reserve(definitions.size());
  for (const OpDefinition* d : definitions) {
    auto& tensors = tensors_.emplace_back();
    for (const auto& t : d->signature.tensors)
      tensors.push_back({t.name.c_str(), t.summary.c_str(), t.role == OpRole::output ? AAT_OP_OUTPUT : AAT_OP_INPUT,
                         t.optional ? AAT_OP_OPTIONAL : 0u, detail::dtype_bits(t.dtypes), t.rank});
    auto& params = params_.emplace_back();
    for (const auto& p : d->signature.params)
      params.push_back({p.name.c_str(), p.summary.c_str(), static_cast<std::uint32_t>(p.type),
                        (p.optional ? AAT_OP_OPTIONAL : 0u) | (p.min ? AAT_OP_HAS_MIN : 0u) | (p.max ? AAT_OP_HAS_MAX : 0u),
                        p.default_value ? p.default_value->c_str() : nullptr, p.min.value_or(0.0), p.max.value_or(0.0)});
    aat_plugin_op op{};
    op.name = d->signature.name.c_str();
    op.summary = d->signature.summary.c_str();
    op.tensors = tensors.data();
    op.tensor_count = tensors.size();
    op.params = params.data();
    op.param_count = params.size();
    op.user = d;
    op.plan = &plan_entry;
    op.record = d->records ? &record_entry : nullptr;
    op.execute = d->executes ? &execute_entry : nullptr;
    op.finish = &finish_entry;
    op.destroy = &destroy_entry;
    ops_.push_back(op);
  }
}

}  // namespace aat
