// Calling ops (aat/op.hpp) from a host: named tensors and parameters checked against the op's
// signature once, then the op's plan, the outputs it describes allocated, its work recorded
// into a stream (or executed), and its report. `run_op` is the one helper every host uses
// (CLI, C API, Python); plan_op + PlannedOp::record compose ops into a stream of the caller's.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aat/op.hpp"
#include "aat/plugin.hpp"

namespace aat {

struct OpArguments {
  std::vector<std::pair<std::string, Tensor>> inputs{};   // by the signature's input names
  std::vector<std::pair<std::string, OpValue>> params{};  // by parameter name; text is parsed
  // How errors name a parameter: the host's own spelling ("--steps" on the command line).
  // Default: "parameter 'steps' of op 'geodesic'".
  std::function<std::string(const OpParamRule& param)> param_label{};
};

// An op planned for one problem: the outputs described (and allocated), ready to record or run.
class PlannedOp {
 public:
  PlannedOp(PlannedOp&&) noexcept;
  PlannedOp& operator=(PlannedOp&&) noexcept;
  ~PlannedOp();

  const PluginOp& op() const { return *op_; }
  // Every tensor in signature order: the inputs given (empty where absent), the outputs.
  const std::vector<Tensor>& tensors() const { return tensors_; }
  // The output of that name (allocated by plan_op).
  const Tensor& output(std::string_view name) const;
  // Whether the plan must run through execute() (it submits work itself).
  bool executes() const { return executes_; }

  // Records the op's work into `stream` (a plan that executes is refused: run() it).
  Expected<void> record(Stream& stream);
  // record + submit + wait, or execute; returns the GPU time in ms.
  Expected<double> run();
  // After the work ran: the op's report, a JSON object ("{}" when it has none).
  Expected<std::string> finish();

 private:
  friend Expected<PlannedOp> plan_op(const std::shared_ptr<Context>&, const PluginOp&, const OpArguments&);
  PlannedOp() = default;
  std::shared_ptr<Context> context_;
  const PluginOp* op_ = nullptr;
  void* plan_ = nullptr;
  bool executes_ = false;
  std::vector<Tensor> tensors_;
};

// Checks the arguments against the signature (errors name the op, the tensor or parameter, and
// what it takes: unknown names list the known ones; a tensor of a dtype or rank the rule does
// not take; a required input or parameter missing; a value of the wrong type), then asks the
// op to plan and allocates the outputs it describes.
Expected<PlannedOp> plan_op(const std::shared_ptr<Context>& context, const PluginOp& op, const OpArguments& arguments);

struct OpResult {
  std::vector<std::pair<std::string, Tensor>> outputs{};  // in signature order
  double gpu_ms = 0;
  std::string report = "{}";  // the op's JSON object
};

// plan_op + run + finish.
Expected<OpResult> run_op(const std::shared_ptr<Context>& context, const PluginOp& op, const OpArguments& arguments);

}  // namespace aat
