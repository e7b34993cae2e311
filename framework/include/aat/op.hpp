// Ops: what a plugin offers through the registry (plugin_abi.h). An op has a signature — named
// tensors with dtype and rank rules, named typed parameters — and a plan for each problem:
//   plan(problem, context) -> plan;  plan.record(stream, tensors)  (or plan.execute);  finish.
// Hosts (the CLI, the C API, Python, C++) bind every op generically by name through this one
// interface (aat/op_run.hpp); no host names a plugin.
//
// Writing an op in a plugin:
//   const aat::OpDefinition kScale{
//       .signature = {.name = "example-scale", .summary = "y = alpha x + beta",
//                     .tensors = {{.name = "x", .summary = "input, any shape", .dtypes = {aat::DType::f32}},
//                                 {.name = "out", .role = aat::OpRole::output, .dtypes = {aat::DType::f32}}},
//                     .params = {{.name = "alpha", .type = aat::OpParamType::number, .default_value = "1"}}},
//       .plan = &plan_scale};   // Expected<std::unique_ptr<OpPlan>>(const std::shared_ptr<Context>&, const OpProblem&)
//   const aat::OpTable& ops() { static const aat::OpTable table{{&kScale}}; return table; }
//   AAT_DEFINE_PLUGIN(example, "0.1.0", "...", ops())
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aat/context.hpp"
#include "aat/dtype.hpp"
#include "aat/error.hpp"
#include "aat/plugin_abi.h"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"

namespace aat {

// ---- the signature --------------------------------------------------------------------------

enum class OpRole { input, output };
enum class OpParamType { boolean, integer, number, text };
std::string_view to_string(OpRole role);
std::string_view to_string(OpParamType type);

struct OpTensorRule {
  std::string name{};
  std::string summary{};
  OpRole role = OpRole::input;
  bool optional = false;      // an input that may be absent; an output a host need not keep
  std::vector<DType> dtypes{};  // what it takes (an output: what it may have)
  int rank = -1;              // the rank it must have; -1: any

  bool takes(DType dtype) const;
  std::string describe() const;  // "f32|f16 of rank 4"
};

struct OpParamRule {
  std::string name{};
  std::string summary{};
  OpParamType type = OpParamType::number;
  bool optional = false;                     // may be left unset (no default)
  std::optional<std::string> default_value{};  // as text, parsed as `type`
  std::optional<double> min{}, max{};          // the range an integer or number takes (inclusive)
};

struct OpSignature {
  std::string name{};
  std::string summary{};
  std::vector<OpTensorRule> tensors{};
  std::vector<OpParamRule> params{};

  const OpTensorRule* find_tensor(std::string_view name) const;
  const OpParamRule* find_param(std::string_view name) const;
  std::string tensor_names(OpRole role) const;  // "'q', 'k', 'v'" (for messages)
  std::string param_names() const;
  std::string to_json() const;                  // name, summary, tensors, params
};

// A parameter's value: typed, or text parsed as the parameter's type.
using OpValue = std::variant<bool, std::int64_t, double, std::string>;
// Converts a value to the parameter's type (text parsed: "true", "12", "0.5") and checks its
// range; errors start with `label`, how the host names the parameter ("--steps", "parameter
// 'steps' of op 'geodesic'").
Expected<OpValue> typed_op_value(const OpParamRule& param, const OpValue& value, std::string_view label);

struct TensorDesc {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape{};
  std::string describe() const;  // "f32[2x3]"
};

// ---- writing an op (plugin side) --------------------------------------------------------------

// What plan() sees: the inputs' descriptions and the parameters (typed as the signature says,
// defaults filled in); plan() describes every output here. Asking for a name the signature
// does not have (or a parameter as another type) is a bug in the op: it throws
// std::invalid_argument, which the C table reports as a plugin error.
class OpProblem {
 public:
  OpProblem(const OpSignature& signature, aat_op_tensor_desc* tensors, const aat_op_value* params);

  const OpSignature& signature() const { return signature_; }
  // An input's description; nullopt for an absent optional input.
  std::optional<TensorDesc> input(std::string_view name) const;
  bool flag(std::string_view name) const;  // a boolean parameter; false when unset
  std::optional<std::int64_t> integer(std::string_view name) const;
  std::optional<double> number(std::string_view name) const;
  std::optional<std::string> text(std::string_view name) const;
  // Describes output `name` (its dtype must be one the signature allows).
  Expected<void> describe_output(std::string_view name, DType dtype, std::vector<std::int64_t> shape);

 private:
  std::size_t tensor_index(std::string_view name, OpRole role) const;
  const aat_op_value* param(std::string_view name, OpParamType type) const;
  const OpSignature& signature_;
  aat_op_tensor_desc* tensors_;
  const aat_op_value* params_;
};

// What record(), execute() and finish() see: the tensors by name.
class OpTensors {
 public:
  OpTensors(const OpSignature& signature, std::vector<const Tensor*> tensors)
      : signature_(signature), tensors_(std::move(tensors)) {}
  // The tensor of that name; nullptr for an absent optional input.
  const Tensor* find(std::string_view name) const;
  // The tensor of that name, which the signature makes present (required inputs, outputs).
  const Tensor& operator[](std::string_view name) const;

 private:
  const OpSignature& signature_;
  std::vector<const Tensor*> tensors_;
};

// An op's plan for one problem on one context.
class OpPlan {
 public:
  virtual ~OpPlan() = default;
  // Whether this plan runs through execute() (it submits work itself) rather than record().
  virtual bool executes() const { return false; }
  // Records the work into the caller's stream; nothing is submitted.
  virtual Expected<void> record(Stream& stream, const OpTensors& tensors);
  // Runs the work to completion; returns its GPU time in ms.
  virtual Expected<double> execute(const std::shared_ptr<Context>& context, const OpTensors& tensors);
  // After the work ran: a JSON object for hosts to report ("notes": [text...] are shown as
  // notes by the CLI). Default: "{}".
  virtual Expected<std::string> finish(const OpTensors& tensors);
};

using OpPlanner = Expected<std::unique_ptr<OpPlan>> (*)(const std::shared_ptr<Context>& context,
                                                        OpProblem& problem);

struct OpDefinition {
  OpSignature signature{};
  OpPlanner plan = nullptr;
  // Which entries the C table gets: record and/or execute (a plan says which it uses).
  bool records = true;
  bool executes = false;
};

// The C table (aat_plugin_op) of a plugin's ops. The definitions must outlive it (statics).
class OpTable {
 public:
  explicit OpTable(std::vector<const OpDefinition*> definitions);
  OpTable(const OpTable&) = delete;
  OpTable& operator=(const OpTable&) = delete;
  const aat_plugin_op* data() const { return ops_.data(); }
  std::size_t size() const { return ops_.size(); }

 private:
  std::vector<std::vector<aat_op_tensor_info>> tensors_;
  std::vector<std::vector<aat_op_param_info>> params_;
  std::vector<aat_plugin_op> ops_;
};

// ---- the opaque handles, for plugin code (defined in libaat) ------------------------------

std::shared_ptr<Context> context_of(const aat_op_context* handle);
Stream& stream_of(aat_op_stream* handle);
const Tensor& tensor_of(const aat_op_tensor* handle);

// A context as the opaque handle a host hands a plugin command (aat_host::context).
class OpContextHandle {
 public:
  explicit OpContextHandle(std::shared_ptr<Context> context);
  ~OpContextHandle();
  OpContextHandle(const OpContextHandle&) = delete;
  OpContextHandle& operator=(const OpContextHandle&) = delete;
  aat_op_context* get() const { return handle_.get(); }

 private:
  std::unique_ptr<aat_op_context> handle_;
};

}  // namespace aat
