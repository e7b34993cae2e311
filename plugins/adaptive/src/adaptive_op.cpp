// The op `adaptive`: adaptive attention as every host runs it by name (aat run adaptive ...,
// aat.run("adaptive", ...), aat_op_run; aat.adaptive_attention is sugar over it). The command
// `aat run adaptive-attention` keeps the options the op has no place for (--devices, --map, every
// knob of the level rule).
#include "adaptive_op.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/adaptive/adaptive.hpp"
#include "aat/attention/op_rules.hpp"

namespace aat::adaptive {

namespace {

class AdaptiveOpPlan final : public OpPlan {
 public:
  AdaptiveOptions options;  // key_lengths set per run
  bool report = false;
  AdaptiveResult result;    // what execute() ran, for finish()
  std::optional<Report> measured;

  bool executes() const override { return true; }

  // Pattern, router and attention are recorded into the adaptive call's own stream (it reads the
  // map's item count back between them), so the op executes rather than records.
  Expected<double> execute(const std::shared_ptr<Context>& context, const OpTensors& t) override {
    AdaptiveOptions o = options;
    o.key_lengths = t.find("key_lengths");
    AAT_TRY(AdaptiveAttention adaptive, AdaptiveAttention::create(context));
    AAT_TRY(result, adaptive.run(t["q"], t["k"], t["v"], o));
    // The host allocated the outputs; the adaptive call allocates its own: one copy each.
    AAT_TRY(Stream stream, Stream::create(context));
    for (const auto& [from, to] : {std::pair{&result.out, "out"}, std::pair{&result.lse, "lse"}})
      if (from->byte_size() > 0)
        AAT_CHECK(stream.copy(from->buffer(), t[to].buffer(), static_cast<std::uint64_t>(from->byte_size())));
    AAT_CHECK(stream.run());
    if (report) {
      AAT_TRY(measured, adaptive.report(t["q"], t["k"], t["v"], o, result));
    }
    return result.gpu_ms;
  }

  Expected<std::string> finish(const OpTensors&) override {
    nlohmann::json j = {{"mode", pattern::to_string(options.mode)},
                        {"path", result.exact ? result.exact_path : result.path},
                        {"exact", result.exact},
                        {"planned_cer", result.planned_cer()},
                        {"cer", result.cer()},
                        {"dense_flops", result.cost.dense_flops},
                        {"executed_flops", result.executed_flops()},
                        {"stages_ms",
                         {{"pattern", result.stages.pattern},
                          {"router", result.stages.router},
                          {"attention", result.stages.attention},
                          {"merge", result.stages.merge}}},
                        {"summary", result.exact ? fmt::format("exact attention ({} path; predicted CER {:.2f})",
                                                               result.exact_path, result.planned_cer())
                                                 : fmt::format("CER {:.2f}", result.cer())}};
    if (measured) j.update(nlohmann::json::parse(measured->to_json()));
    return j.dump();
  }
};

Expected<std::unique_ptr<OpPlan>> plan_adaptive(const std::shared_ptr<Context>&, OpProblem& problem) {
  const TensorDesc q = *problem.input("q"), k = *problem.input("k"), v = *problem.input("v");
  auto plan = std::make_unique<AdaptiveOpPlan>();
  AdaptiveOptions& o = plan->options;
  o.causal = problem.flag("causal");
  plan->report = problem.flag("report");
  if (const auto scale = problem.number("scale")) o.scale = static_cast<float>(*scale);
  // The rule: `mode` when given; else mass when `mass` is given, else bound (rule_options.hpp).
  const auto mass = problem.number("mass"), epsilon = problem.number("epsilon");
  o.mode = mass ? pattern::Mode::mass : pattern::Mode::bound;
  if (const auto mode = problem.text("mode")) {
    const auto parsed = pattern::parse_mode(*mode);
    if (!parsed) return fail(ErrorCode::invalid_argument, fmt::format("mode must be 'bound' or 'mass', got '{}'", *mode));
    o.mode = *parsed;
  }
  if (o.mode == pattern::Mode::bound && mass)
    return fail(ErrorCode::invalid_argument, "mass belongs to the mass rule; the bound rule takes epsilon");
  if (o.mode == pattern::Mode::mass && epsilon)
    return fail(ErrorCode::invalid_argument, "epsilon belongs to the bound rule; the mass rule takes mass");
  if (mass) o.mass = *mass;
  if (epsilon) o.epsilon = *epsilon;
  if (const auto below = problem.number("exact_below_cer")) o.exact_below_cer = *below;
  if (const auto kernel = problem.text("kernel"); kernel && *kernel != "auto") {
    if (*kernel != "cooperative_matrix2" && *kernel != "scalar")
      return fail(ErrorCode::invalid_argument,
                  fmt::format("kernel must be auto, cooperative_matrix2 or scalar, got '{}'", *kernel));
    o.path = attention::parse_kernel_path(*kernel);
  }
  AAT_TRY(const attention::AttentionShape shape,
          attention::check_shapes(q.dtype, q.shape, k.dtype, k.shape, v.dtype, v.shape, o.causal));
  const auto lengths = problem.input("key_lengths");
  AAT_CHECK(attention::check_mask_shapes(
      shape, lengths ? std::optional(attention::ArrayShape{lengths->dtype, lengths->shape}) : std::nullopt,
      std::nullopt, std::nullopt));
  AAT_CHECK(problem.describe_output("out", shape.dtype, q.shape));
  AAT_CHECK(problem.describe_output("lse", DType::f32, {shape.batch, shape.q_heads, shape.q_len}));
  return std::unique_ptr<OpPlan>(std::move(plan));
}

}  // namespace

const OpDefinition& adaptive_op() {
  static const OpDefinition definition = [] {
    OpDefinition d{.signature = {.name = "adaptive",
                                 .summary = "Adaptive attention: pattern -> router -> attention over the kept blocks -> "
                                            "exact merge (exact attention instead where the map saves too little)",
                                 .tensors = attention::attention_tensor_rules(false),
                                 .params = attention::attention_mask_params()},
                   .plan = &plan_adaptive,
                   .records = false,
                   .executes = true};
    auto& params = d.signature.params;
    params.push_back({.name = "mode",
                      .summary = "level rule: bound (the default) or mass (the default when mass is given)",
                      .type = OpParamType::text,
                      .optional = true});
    params.push_back({.name = "epsilon",
                      .summary = fmt::format("bound rule: largest share of a query group's mass not run at full "
                                             "resolution (default {}; 0: every block full)", pattern::kDefaultEpsilon),
                      .type = OpParamType::number,
                      .optional = true});
    params.push_back({.name = "mass",
                      .summary = fmt::format("mass rule: share of the estimated mass kept at full resolution (default "
                                             "{}; >= 1: every block full)", pattern::kDefaultMass),
                      .type = OpParamType::number,
                      .optional = true});
    params.push_back({.name = "exact_below_cer",
                      .summary = fmt::format("run exact attention instead when the map's predicted CER is below this "
                                             "(default {}; 0: always the plan)", kDefaultExactBelowCer),
                      .type = OpParamType::number,
                      .optional = true});
    params.push_back({.name = "kernel",
                      .summary = "the plan's kernel: auto (default: tensor cores where the device runs them), "
                                 "cooperative_matrix2 (f16, D <= 128, 64-key tiles) or scalar",
                      .type = OpParamType::text,
                      .optional = true});
    params.push_back({.name = "report",
                      .summary = "also run exact attention and report ifq, cer, ae against it",
                      .type = OpParamType::boolean,
                      .default_value = "false"});
    return d;
  }();
  return definition;
}

}  // namespace aat::adaptive
