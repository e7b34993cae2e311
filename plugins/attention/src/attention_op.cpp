// The op `attention`: exact attention as every host runs it by name (aat run attention ...,
// aat.run("attention", ...), aat_op_run). Planned from shapes alone; recorded into the caller's
// stream, or executed in query chunks where the split workspace would outgrow its budget.
#include "attention_op.hpp"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/attention/attention.hpp"
#include "aat/attention/op_rules.hpp"
#include "query_chunks.hpp"

namespace aat::attention {

namespace {

class AttentionOpPlan final : public OpPlan {
 public:
  std::shared_ptr<Context> context;
  AttentionShape shape;
  Tiling tiling;  // what plan() chose; record/execute report what ran
  bool chunked = false;
  bool causal = false;
  std::optional<float> scale;
  std::optional<std::uint32_t> splits;
  std::optional<KernelPath> path;

  bool executes() const override { return chunked; }

  Expected<void> record(Stream& stream, const OpTensors& t) override {
    const AttentionOptions o = options(t);
    AAT_TRY(Attention attention, Attention::create(context));
    AAT_TRY(tiling, attention.record(stream, t["q"], t["k"], t["v"], o, t["out"], t["lse"]));
    return {};
  }

  Expected<double> execute(const std::shared_ptr<Context>&, const OpTensors& t) override {
    const AttentionOptions o = options(t);
    AAT_TRY(Attention attention, Attention::create(context));
    AAT_TRY(const AttentionShape checked, check_inputs(t["q"], t["k"], t["v"], o));
    AAT_TRY(const Tiling chosen, attention.choose_tiling(checked, o));
    AAT_TRY(auto result, detail::run_in_query_chunks(attention, t["q"], t["k"], t["v"], o, checked,
                                                     detail::query_chunk_rows(checked, chosen), t["out"], t["lse"]));
    tiling = result.tiling;
    return result.gpu_ms;
  }

  Expected<std::string> finish(const OpTensors& t) override {
    const double flops = attention_flops(shape);
    nlohmann::json report = {{"dtype", to_string(shape.dtype)},
                             {"shape", {{"q", t["q"].shape()}, {"k", t["k"].shape()}}},
                             {"causal", causal},
                             {"tiling", nlohmann::json::parse(tiling.to_json())},
                             {"flops", flops},
                             {"summary", fmt::format("{:.3g} GFLOP (Br={} Bc={} splits={})", flops / 1e9,
                                                     tiling.block_q, tiling.block_kv, tiling.splits)},
                             {"notes", nlohmann::json::array()}};
    if (splits && tiling.splits != *splits)
      report["notes"].push_back(
          {{"param", "splits"},
           {"text", fmt::format("{} clamped to {}: Nk = {} keys make {} key tiles of Bc = {}, one split each", *splits,
                                tiling.splits, shape.kv_len, tiling.splits, tiling.block_kv)}});
    return report.dump();
  }

 private:
  AttentionOptions options(const OpTensors& t) const {
    AttentionOptions o;
    o.causal = causal;
    o.scale = scale;
    o.splits = splits;
    o.path = path;
    o.key_lengths = t.find("key_lengths");
    o.bias = t.find("bias");
    return o;
  }
};

ArrayShape array_shape(const TensorDesc& d) { return {d.dtype, d.shape}; }

Expected<std::unique_ptr<OpPlan>> plan_attention(const std::shared_ptr<Context>& context, OpProblem& problem) {
  const TensorDesc q = *problem.input("q"), k = *problem.input("k"), v = *problem.input("v");
  auto plan = std::make_unique<AttentionOpPlan>();
  plan->context = context;
  plan->causal = problem.flag("causal");
  if (const auto scale = problem.number("scale")) plan->scale = static_cast<float>(*scale);
  if (const auto splits = problem.integer("splits")) {
    if (*splits < 0 || *splits > 0xffffffffll)
      return fail(ErrorCode::invalid_argument, fmt::format("splits must be from 1 to 2^32-1, got {}", *splits));
    plan->splits = static_cast<std::uint32_t>(*splits);
  }
  if (const auto path = problem.text("path")) {
    plan->path = parse_kernel_path(*path);
    if (!plan->path)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("path '{}' is none of scalar, decode, cooperative_matrix_nv, cooperative_matrix_khr, "
                              "cooperative_matrix2", *path));
  }
  AAT_TRY(plan->shape, check_shapes(q.dtype, q.shape, k.dtype, k.shape, v.dtype, v.shape, plan->causal));
  const auto lengths = problem.input("key_lengths"), bias = problem.input("bias");
  AAT_CHECK(check_mask_shapes(plan->shape, lengths ? std::optional(array_shape(*lengths)) : std::nullopt,
                              bias ? std::optional(array_shape(*bias)) : std::nullopt, plan->splits));
  AAT_TRY(Attention attention, Attention::create(context));
  AttentionOptions options;
  options.splits = plan->splits;
  options.path = plan->path;
  AAT_TRY(plan->tiling, attention.choose_tiling(plan->shape, options));
  plan->chunked = detail::query_chunk_rows(plan->shape, plan->tiling) < plan->shape.q_len;
  const AttentionShape& s = plan->shape;
  AAT_CHECK(problem.describe_output("out", s.dtype, q.shape));
  AAT_CHECK(problem.describe_output("lse", DType::f32, {s.batch, s.q_heads, s.q_len}));
  return std::unique_ptr<OpPlan>(std::move(plan));
}

}  // namespace

std::vector<OpTensorRule> attention_tensor_rules(bool with_bias) {
  std::vector<OpTensorRule> rules{
      {.name = "q", .summary = "queries Q [B, Hq, Nq, D]", .dtypes = {DType::f32, DType::f16}, .rank = 4},
      {.name = "k", .summary = "keys K [B, Hkv, Nk, D], Q's dtype; Hq a multiple of Hkv", .dtypes = {DType::f32, DType::f16},
       .rank = 4},
      {.name = "v", .summary = "values V, K's shape", .dtypes = {DType::f32, DType::f16}, .rank = 4},
      {.name = "key_lengths",
       .summary = "key lengths i32 [B]: keys j >= key_lengths[b] are masked",
       .optional = true,
       .dtypes = {DType::i32},
       .rank = 1}};
  if (with_bias)
    rules.push_back({.name = "bias",
                     .summary = "bias f32, broadcastable from [B or 1, Hq or 1, Nq, Nk], added to the scores",
                     .optional = true,
                     .dtypes = {DType::f32},
                     .rank = 4});
  rules.push_back({.name = "out", .summary = "O [B, Hq, Nq, D], Q's dtype", .role = OpRole::output,
                   .dtypes = {DType::f32, DType::f16}, .rank = 4});
  rules.push_back({.name = "lse",
                   .summary = "the row log-sum-exp L [B, Hq, Nq] (natural log; -inf for a row with no visible key)",
                   .role = OpRole::output,
                   .optional = true,
                   .dtypes = {DType::f32},
                   .rank = 3});
  return rules;
}

std::vector<OpParamRule> attention_mask_params() {
  return {{.name = "causal",
           .summary = "causal mask, bottom-right aligned: query i sees keys j <= i + Nk - Nq",
           .type = OpParamType::boolean,
           .default_value = "false"},
          {.name = "scale", .summary = "score scale (default 1/sqrt(D))", .type = OpParamType::number, .optional = true}};
}

const OpDefinition& attention_op() {
  static const OpDefinition definition = [] {
    OpDefinition d{.signature = {.name = "attention",
                                 .summary = "Exact attention O = softmax(scale Q K^T + mask + bias) V, FlashAttention-"
                                            "style (also the row log-sum-exp L)",
                                 .tensors = attention_tensor_rules(true),
                                 .params = attention_mask_params()},
                   .plan = &plan_attention,
                   .records = true,
                   .executes = true};
    const OpParamRule kernel_choice[] = {
        {.name = "splits",
         .summary = "force the K-split count (default: chosen by the tiler); at most one split per key tile (more are "
                    "clamped, with a note); on a CPU device at least what llvmpipe's loop limit needs",
         .type = OpParamType::integer,
         .optional = true},
        {.name = "path",
         .summary = "force a kernel path: scalar, decode, cooperative_matrix_nv, cooperative_matrix_khr or "
                    "cooperative_matrix2 (default: the fastest the device runs for this shape)",
         .type = OpParamType::text,
         .optional = true}};
    d.signature.params.insert(d.signature.params.end(), std::begin(kernel_choice), std::end(kernel_choice));
    return d;
  }();
  return definition;
}

}  // namespace aat::attention
