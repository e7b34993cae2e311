#include "aat/attention/attention.hpp"

#include <cmath>
#include <map>
#include <span>
#include <tuple>

#include <fmt/format.h>

#include "aat/attention/loop_limit.hpp"
#include "aat/bindings.hpp"
#include "attention/attention_cm2.bindings.hpp"
#include "attention/attention_cm2_mma_rowsum.bindings.hpp"
#include "attention/attention_cm2_half_prob.bindings.hpp"
#include "attention/attention_cm2_narrow_stats.bindings.hpp"
#include "attention/attention_coopmat_khr_d128.bindings.hpp"
#include "attention/attention_coopmat_khr_d64.bindings.hpp"
#include "attention/attention_coopmat_d128.bindings.hpp"
#include "attention/attention_coopmat_d64.bindings.hpp"
#include "attention/attention_decode_f16.bindings.hpp"
#include "attention/attention_f16.bindings.hpp"
#include "attention/attention_f32.bindings.hpp"
#include "attention/merge_f16.bindings.hpp"
#include "attention/merge_f32.bindings.hpp"
#include "attention/merge_state_f32.bindings.hpp"
#include "query_chunks.hpp"

namespace aat::attention {

namespace {

namespace forward = plugin_gen::attention::attention_f32;  // both dtypes share one interface
namespace merge = plugin_gen::attention::merge_f32;  // merge_f16 and merge_state_f32 share its bindings' names
static_assert(sizeof(plugin_gen::attention::attention_f16::PushConstants) == sizeof(forward::PushConstants));
static_assert(sizeof(plugin_gen::attention::attention_coopmat_d64::PushConstants) == sizeof(forward::PushConstants));
static_assert(sizeof(plugin_gen::attention::attention_coopmat_d128::PushConstants) == sizeof(forward::PushConstants));

struct ForwardKey {
  KernelPath path;
  DType dtype;
  std::uint32_t head_dim, block_q, block_kv, workgroup, variant;
  bool causal, lengths, bias, partials;
  bool kv_aligned;  // Nk a multiple of Bc and D of the column granule: K/V tile loads need no bounds checks
  auto operator<=>(const ForwardKey&) const = default;
};

struct MergeKey {
  DType dtype;
  std::uint32_t head_dim;
  bool to_state;  // merge_state_f32: the merged partial state rather than O and L
  auto operator<=>(const MergeKey&) const = default;
};

constexpr std::uint32_t kMergeWorkgroup = 64;

// What a path needs, for the error when it is forced where it cannot run.
std::string path_requirements(KernelPath path) {
  switch (path) {
    case KernelPath::scalar: return "nothing beyond Vulkan 1.2";
    case KernelPath::cooperative_matrix_nv: return "VK_NV_cooperative_matrix, f16 and D = 64 or 128";
    case KernelPath::cooperative_matrix_khr:
      return fmt::format("VK_KHR_cooperative_matrix with a 16x16x16 f16 shape, 32-lane subgroups, f16, D = 64 or 128, "
                         "and a build whose shader compiler knows it (this build: {})",
                         path_compiled(KernelPath::cooperative_matrix_khr) ? "yes" : "no, glslang >= 15.1 was not found");
    case KernelPath::decode:
      return fmt::format("f16, D a multiple of 8 up to 256 and (Hq/Hkv) x Nq <= {} query rows per K/V head",
                         kDecodeMaxRows);
    case KernelPath::cooperative_matrix2:
      return fmt::format("VK_NV_cooperative_matrix2 with every feature, f16 and D a multiple of 8 up to 256, and a "
                         "build whose shader compiler knows coopmat2 (this build: {})",
                         path_compiled(KernelPath::cooperative_matrix2) ? "yes" : "no, glslang >= 15.1 was not found");
  }
  return "";
}

std::uint32_t ceil_div(std::uint64_t a, std::uint64_t b) { return static_cast<std::uint32_t>((a + b - 1) / b); }

}  // namespace

namespace {

// A forward kernel's SPIR-V and its specialization.
struct ForwardProgram {
  std::span<const std::uint32_t> words;
  SpecValues spec;
};

// `words` with the constants every forward kernel has (the key tile, attention_common.glsl's
// switches) and those `set` adds, typed through the variant's own generated header.
template <class Specialization, class Set>
ForwardProgram forward_program(std::span<const std::uint32_t> words, const ForwardKey& key, Set&& set) {
  return {words, specialization_entries<Specialization>([&](auto& s) {
            s.BLOCK_KV = key.block_kv;
            s.CAUSAL = key.causal;
            s.HAS_LENGTHS = key.lengths;
            s.HAS_BIAS = key.bias;
            s.WRITE_PARTIALS = key.partials;
            set(s);
          })};
}

// The forward kernel of a configuration: built by the context's kernel cache on first use and
// found there afterwards.
Expected<Kernel> forward_kernel(const std::shared_ptr<Context>& context, const ForwardKey& key) {
  namespace gen = plugin_gen::attention;
  KernelOptions options;
  ForwardProgram program;
  std::string name;
  if (key.path == KernelPath::cooperative_matrix2) {
    // Each variant is a kernel of its own: 0 row sums by reduction, 1 by P x ones on the tensor
    // cores, 2 the same with row statistics 16 columns wide, 3 as 2 with P's exponentials in f16.
    const auto set = [&](auto& s) {
      s.local_size_x = key.workgroup;
      s.BLOCK_Q = key.block_q;
      s.HEAD_DIM = key.head_dim;
      s.KV_CLAMP = key.kv_aligned ? 0 : 1;  // gl_CooperativeMatrixClampMode{Undefined,Constant}NV
      s.COLUMN_GRANULE = coopmat2_column_granule(key.workgroup);
    };
    constexpr std::string_view kVariantNames[] = {"", "_mma_rowsum", "_narrow_stats", "_half_prob"};
    program = key.variant == 3
                  ? forward_program<gen::attention_cm2_half_prob::Specialization>(
                        gen::attention_cm2_half_prob::spirv(), key, set)
              : key.variant == 2
                  ? forward_program<gen::attention_cm2_narrow_stats::Specialization>(
                        gen::attention_cm2_narrow_stats::spirv(), key, set)
              : key.variant == 1
                  ? forward_program<gen::attention_cm2_mma_rowsum::Specialization>(gen::attention_cm2_mma_rowsum::spirv(),
                                                                                   key, set)
                  : forward_program<gen::attention_cm2::Specialization>(gen::attention_cm2::spirv(), key, set);
    name = fmt::format("attention.forward_cm2{}_d{}", kVariantNames[std::min<std::uint32_t>(key.variant, 3)],
                       key.head_dim);
  } else if (key.path == KernelPath::decode) {
    program = forward_program<gen::attention_decode_f16::Specialization>(
        gen::attention_decode_f16::spirv(), key, [&](auto& s) {
          s.local_size_x = key.workgroup;
          s.ROWS = key.block_q;
          s.HEAD_DIM = key.head_dim;
          if (key.variant) s.UNROLL = key.variant;  // Tiling::variant: the keys loaded ahead per step
        });
    name = fmt::format("attention.decode_d{}_rows{}", key.head_dim, key.block_q);
    // The kernel is one subgroup: where the size can vary, ask for the one its chunks assume.
    const auto& limits = context->device().limits;
    if (limits.min_subgroup_size != limits.max_subgroup_size) options.required_subgroup_size = key.workgroup;
  } else if (key.path == KernelPath::cooperative_matrix_nv || key.path == KernelPath::cooperative_matrix_khr) {
    // Block Q, head dim and workgroup size are compiled into the tensor-core variants.
    const bool khr = key.path == KernelPath::cooperative_matrix_khr;
    const auto nothing_more = [](auto&) {};
    if (key.head_dim == 64)
      program = khr ? forward_program<gen::attention_coopmat_khr_d64::Specialization>(
                          gen::attention_coopmat_khr_d64::spirv(), key, nothing_more)
                    : forward_program<gen::attention_coopmat_d64::Specialization>(gen::attention_coopmat_d64::spirv(),
                                                                                  key, nothing_more);
    else
      program = khr ? forward_program<gen::attention_coopmat_khr_d128::Specialization>(
                          gen::attention_coopmat_khr_d128::spirv(), key, nothing_more)
                    : forward_program<gen::attention_coopmat_d128::Specialization>(gen::attention_coopmat_d128::spirv(),
                                                                                   key, nothing_more);
    name = fmt::format("attention.forward_coopmat_{}_d{}", khr ? "khr" : "nv", key.head_dim);
    // Written for 32-lane subgroups: ask for them where the size can vary.
    const auto& limits = context->device().limits;
    if (limits.min_subgroup_size != limits.max_subgroup_size) options.required_subgroup_size = 32;
  } else {
    const auto set = [&](auto& s) {
      s.local_size_x = key.workgroup;
      s.BLOCK_Q = key.block_q;
      s.HEAD_DIM = key.head_dim;
      s.OUTPUTS_PER_THREAD = ceil_div(std::uint64_t{key.block_q} * key.head_dim, key.workgroup);
    };
    program = key.dtype == DType::f16
                  ? forward_program<gen::attention_f16::Specialization>(gen::attention_f16::spirv(), key, set)
                  : forward_program<forward::Specialization>(forward::spirv(), key, set);
    name = fmt::format("attention.forward_{}", to_string(key.dtype));
  }
  options.spec = std::move(program.spec);
  return Kernel::create(context, program.words, name, options);
}

// A merge variant's constants, through its own generated header.
template <class Specialization>
KernelOptions merge_options(const MergeKey& key) {
  return {.spec = Specialization{.local_size_x = kMergeWorkgroup, .HEAD_DIM = key.head_dim}.entries()};
}

Expected<Kernel> merge_kernel(const std::shared_ptr<Context>& context, const MergeKey& key) {
  namespace gen = plugin_gen::attention;
  if (key.to_state)
    return Kernel::create(context, gen::merge_state_f32::spirv(), "attention.merge_state",
                          merge_options<gen::merge_state_f32::Specialization>(key));
  const std::string name = fmt::format("attention.merge_{}", to_string(key.dtype));
  if (key.dtype == DType::f16)
    return Kernel::create(context, gen::merge_f16::spirv(), name, merge_options<gen::merge_f16::Specialization>(key));
  return Kernel::create(context, merge::spirv(), name, merge_options<merge::Specialization>(key));
}

}  // namespace

Expected<Attention> Attention::create(const std::shared_ptr<Context>& context) {
  if (!context) return fail(ErrorCode::invalid_argument, "Attention::create: no context");
  const auto& features = context->device().features;
  if (!features.storage_buffer_16bit || !features.shader_float16)
    return fail(ErrorCode::unsupported, fmt::format("device '{}' lacks 16-bit storage or float16 arithmetic, which "
                                                    "the attention kernels need", context->device().name));
  Attention attention;
  attention.context_ = context;
  return attention;
}

// What a call will run: the checked shape, the tiling and the forward kernel. `kernel_shape` is
// what the forward kernel is told: the shape itself, or its GQA rows packed (pack_gqa_rows).
struct Attention::Plan {
  AttentionShape shape;
  AttentionShape kernel_shape;
  Tiling tiling;
  std::uint32_t tiles_per_split = 1;
  Kernel kernel;
};

Expected<Tiling> Attention::choose_tiling(const AttentionShape& shape, const AttentionOptions& options) const {
  const DeviceInfo& device = context_->device();
  if (options.path && !path_supported(device, shape, *options.path))
    return fail(ErrorCode::unsupported, fmt::format("the {} path needs {}; device '{}', {} with D = {}",
                                                    to_string(*options.path), path_requirements(*options.path),
                                                    device.name, to_string(shape.dtype), shape.head_dim));
  Tiling tiling = options.path ? optimize_tiling_for(device, shape, *options.path) : optimize_tiling(device, shape);
  const auto packed = pack_gqa_rows(shape, tiling.path, options.bias != nullptr);
  const AttentionShape& kernel_shape = packed ? *packed : shape;
  if (packed) {
    tiling = optimize_tiling_for(device, *packed, tiling.path);
    tiling.reason += fmt::format("; the {} query heads sharing a K/V head packed into one row block of {} rows",
                                 shape.q_heads / shape.kv_heads, packed->q_len);
  }
  AAT_TRY(tiling, apply_override(device, kernel_shape, std::move(tiling), options.tiling));
  if (options.splits) {
    AAT_TRY(tiling.splits, check_forced_splits(device, kernel_shape, tiling, *options.splits));
    tiling.reason += tiling.splits == *options.splits
                         ? fmt::format("; splits forced to {}", tiling.splits)
                         : fmt::format("; splits forced to {}, clamped to {} (one per key tile)", *options.splits,
                                       tiling.splits);
  }
  return tiling;
}

Expected<Attention::Plan> Attention::plan(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const AttentionOptions& options, bool partials) {
  Plan plan;
  AAT_TRY(plan.shape, check_inputs(q, k, v, options));
  const AttentionShape& shape = plan.shape;
  AAT_TRY(plan.tiling, choose_tiling(shape, options));
  const Tiling& tiling = plan.tiling;
  plan.kernel_shape = pack_gqa_rows(shape, tiling.path, options.bias != nullptr).value_or(shape);
  const std::uint64_t tiles = std::max<std::uint64_t>(1, (static_cast<std::uint64_t>(shape.kv_len) + tiling.block_kv - 1) / tiling.block_kv);
  plan.tiles_per_split = ceil_div(tiles, tiling.splits);
  const ForwardKey key{tiling.path,
                       shape.dtype,
                       static_cast<std::uint32_t>(shape.head_dim),
                       tiling.block_q,
                       tiling.block_kv,
                       tiling.workgroup_size,
                       tiling.variant,
                       plan.kernel_shape.causal,  // packed rows see every key
                       options.key_lengths != nullptr,
                       options.bias != nullptr,
                       partials || tiling.splits > 1,
                       shape.kv_len % tiling.block_kv == 0 &&
                           shape.head_dim % coopmat2_column_granule(tiling.workgroup_size) == 0};
  AAT_TRY(plan.kernel, forward_kernel(context_, key));
  return plan;
}

Expected<std::vector<KernelStatistic>> Attention::statistics(const Tensor& q, const Tensor& k, const Tensor& v,
                                                             const AttentionOptions& options) {
  AAT_TRY(Plan p, plan(q, k, v, options));
  return p.kernel.statistics();
}

Expected<AttentionResult> Attention::run(const Tensor& q, const Tensor& k, const Tensor& v,
                                         const AttentionOptions& options) {
  AAT_TRY(Plan p, plan(q, k, v, options));
  const AttentionShape& shape = p.shape;
  AttentionResult result;
  AAT_TRY(result.out, Tensor::create(context_, shape.dtype, q.shape()));
  AAT_TRY(result.lse, Tensor::create(context_, DType::f32, {shape.batch, shape.q_heads, shape.q_len}));
  // A split workspace that would outgrow its budget (CPU devices, long keys): rows in chunks.
  if (const std::int64_t rows = detail::query_chunk_rows(p.shape, p.tiling); rows < p.shape.q_len) {
    AAT_TRY(auto chunked, detail::run_in_query_chunks(*this, q, k, v, options, p.shape, rows, result.out, result.lse));
    result.tiling = std::move(chunked.tiling);
    result.gpu_ms = chunked.gpu_ms;
    result.flops = attention_flops(shape);
    return result;
  }
  result.flops = attention_flops(shape);
  result.tiling = p.tiling;
  AAT_TRY(Stream stream, Stream::create(context_));
  AAT_CHECK(record_planned(stream, p, q, k, v, options, result.out, result.lse));
  AAT_CHECK(stream.run());
  result.gpu_ms = stream.total_gpu_ms();
  return result;
}

Expected<Tiling> Attention::record(Stream& stream, const Tensor& q, const Tensor& k, const Tensor& v,
                                   const AttentionOptions& options, const Tensor& out, const Tensor& lse) {
  AAT_TRY(Plan p, plan(q, k, v, options));
  const AttentionShape& shape = p.shape;
  if (!out || !lse || out.dtype() != shape.dtype || out.shape() != q.shape() || lse.dtype() != DType::f32 ||
      lse.shape() != std::vector<std::int64_t>{shape.batch, shape.q_heads, shape.q_len})
    return fail(ErrorCode::invalid_argument,
                fmt::format("attention: out must be {}[{}] and lse f32[{}x{}x{}], got {} and {}", to_string(shape.dtype),
                            shape_to_string(q.shape()), shape.batch, shape.q_heads, shape.q_len,
                            out ? out.describe() : "none", lse ? lse.describe() : "none"));
  if (const std::int64_t rows = detail::query_chunk_rows(p.shape, p.tiling); rows < p.shape.q_len)
    return fail(ErrorCode::unsupported,
                fmt::format("attention: this problem's split workspace ({} MiB) exceeds its {} MiB budget, so it runs "
                            "in chunks of {} query rows with the host waiting between them: use run()",
                            detail::split_workspace_bytes(p.shape, p.tiling) >> 20,
                            detail::kSplitWorkspaceBudget >> 20, rows));
  AAT_CHECK(record_planned(stream, p, q, k, v, options, out, lse));
  return p.tiling;
}

// The forward dispatch into O and L, or (split K) into a workspace the stream keeps alive and
// the merge from it.
Expected<void> Attention::record_planned(Stream& stream, const Plan& p, const Tensor& q, const Tensor& k,
                                         const Tensor& v, const AttentionOptions& options, const Tensor& out,
                                         const Tensor& lse) {
  const AttentionShape& shape = p.shape;
  const Tiling& tiling = p.tiling;
  const auto rows = static_cast<std::uint64_t>(shape.batch * shape.q_heads * shape.q_len);
  if (rows == 0) return {};
  const bool split = tiling.splits > 1;
  Tensor partial_o, partial_state;  // split-K: per split and row, normalised o and (m, l)
  if (split) {
    const auto r = static_cast<std::int64_t>(rows);
    AAT_TRY(partial_o, with_context(Tensor::create(context_, DType::f32, {tiling.splits, r, shape.head_dim}),
                                    "the split-K workspace 'partial O' (f32 [splits, B Hq Nq, D])"));
    AAT_TRY(partial_state, with_context(Tensor::create(context_, DType::f32, {tiling.splits, r, 2}),
                                        "the split-K workspace 'partial (m, l)' (f32 [splits, B Hq Nq, 2])"));
  }
  const Buffer unused;  // the context's placeholder is bound there
  AAT_CHECK(record_forward(stream, p, q, k, v, options, split ? unused : out.buffer(), split ? unused : lse.buffer(),
                           split ? partial_o.buffer() : unused, split ? partial_state.buffer() : unused));
  if (split) {
    AAT_CHECK(record_merge(stream, partial_o, partial_state, out, lse));
  }
  return {};
}

Expected<AttentionPartials> Attention::record_partials(Stream& stream, const Tensor& q, const Tensor& k,
                                                       const Tensor& v, const AttentionOptions& options) {
  AAT_TRY(Plan p, plan(q, k, v, options, true));
  const AttentionShape& shape = p.shape;
  AttentionPartials partials;
  partials.tiling = p.tiling;
  partials.flops = attention_flops(shape);
  const auto rows = shape.batch * shape.q_heads * shape.q_len;
  AAT_TRY(partials.o, Tensor::create(context_, DType::f32, {p.tiling.splits, rows, shape.head_dim}));
  AAT_TRY(partials.state, Tensor::create(context_, DType::f32, {p.tiling.splits, rows, 2}));
  if (rows == 0) return partials;
  AAT_CHECK(record_forward(stream, p, q, k, v, options, {}, {}, partials.o.buffer(), partials.state.buffer()));
  return partials;
}

// Binds the inputs and the outputs (O and L, or the partial states) and records the forward
// dispatch. An empty buffer (and an absent mask) gets the context's placeholder: the kernel is
// specialized not to touch it.
Expected<void> Attention::record_forward(Stream& stream, const Plan& p, const Tensor& q, const Tensor& k,
                                         const Tensor& v, const AttentionOptions& options, const Buffer& out,
                                         const Buffer& lse, const Buffer& partial_o, const Buffer& partial_state) {
  const AttentionShape& shape = p.kernel_shape;
  const Tiling& tiling = p.tiling;
  Bindings bindings(p.kernel);
  AAT_CHECK(bindings.bind(forward::binding::Q, q));
  AAT_CHECK(bindings.bind(forward::binding::K, k));
  AAT_CHECK(bindings.bind(forward::binding::V, v));
  AAT_CHECK(bindings.bind_or_unused(forward::binding::O, out));
  AAT_CHECK(bindings.bind_or_unused(forward::binding::L, lse));
  AAT_CHECK(bindings.bind_or_unused(forward::binding::KeyLengths, options.key_lengths));
  AAT_CHECK(bindings.bind_or_unused(forward::binding::Bias, options.bias));
  AAT_CHECK(bindings.bind_or_unused(forward::binding::PartialO, partial_o));
  AAT_CHECK(bindings.bind_or_unused(forward::binding::PartialL, partial_state));

  forward::PushConstants push{};
  set_problem_push(push, shape, options.scale);
  if (options.bias) {
    const auto per_head = static_cast<std::uint32_t>(shape.q_len * shape.kv_len);
    push.bias_stride_h = options.bias->dim(1) == 1 ? 0 : per_head;
    push.bias_stride_b = options.bias->dim(0) == 1 ? 0 : per_head * static_cast<std::uint32_t>(options.bias->dim(1));
  }
  push.tiles_per_split = p.tiles_per_split;
  AAT_CHECK(bindings.push_struct(push));

  // Decode workgroups own every query row of one K/V head; the others a block of one head's rows.
  const Workgroups grid = tiling.path == KernelPath::decode
                              ? Workgroups{1, static_cast<std::uint32_t>(shape.batch * shape.kv_heads), tiling.splits}
                              : Workgroups{ceil_div(static_cast<std::uint64_t>(shape.q_len), tiling.block_q),
                                           static_cast<std::uint32_t>(shape.batch * shape.q_heads), tiling.splits};
  return stream.dispatch(bindings, grid, "attention.forward");
}

Expected<void> Attention::record_merge(Stream& stream, const Tensor& partial_o, const Tensor& partial_state,
                                       const Tensor& out, const Tensor& lse) {
  return record_merge_kernel(stream, false, partial_o, partial_state, out, lse);
}

Expected<void> Attention::record_merge_to_state(Stream& stream, const Tensor& partial_o, const Tensor& partial_state,
                                                const Tensor& out_o, const Tensor& out_state) {
  return record_merge_kernel(stream, true, partial_o, partial_state, out_o, out_state);
}

// Both merges: partial states [slots, rows, D] / [slots, rows, 2] -> out (rows x D) and `second`
// (lse: rows floats; to_state: the merged (m, l), rows x 2 floats).
Expected<void> Attention::record_merge_kernel(Stream& stream, bool to_state, const Tensor& partial_o,
                                              const Tensor& partial_state, const Tensor& out, const Tensor& second) {
  const bool shapes_ok = partial_o.rank() == 3 && partial_state.rank() == 3 && partial_o.dtype() == DType::f32 &&
                         partial_state.dtype() == DType::f32 && partial_state.dim(0) == partial_o.dim(0) &&
                         partial_state.dim(1) == partial_o.dim(1) && partial_state.dim(2) == 2;
  if (!shapes_ok)
    return fail(ErrorCode::invalid_argument,
                fmt::format("merge: partial states must be f32 [slots, rows, D] and [slots, rows, 2], got {} and {}",
                            partial_o.describe(), partial_state.describe()));
  const std::int64_t slots = partial_o.dim(0), rows = partial_o.dim(1), head_dim = partial_o.dim(2);
  const DType out_dtype = to_state ? DType::f32 : out.dtype();
  const std::int64_t second_per_row = to_state ? 2 : 1;
  if (out.dtype() != out_dtype || (out_dtype != DType::f32 && out_dtype != DType::f16) ||
      out.element_count() != rows * head_dim || second.dtype() != DType::f32 ||
      second.element_count() != rows * second_per_row)
    return fail(ErrorCode::invalid_argument,
                fmt::format("merge{}: {} partial states of {} rows x D = {} need out {} with {} elements and {} f32 "
                            "with {}; got {} and {}", to_state ? " to state" : "", slots, rows, head_dim,
                            to_state ? "f32" : "f32/f16", rows * head_dim, to_state ? "state" : "lse",
                            rows * second_per_row, out.describe(), second.describe()));
  if (slots == 0) return fail(ErrorCode::invalid_argument, "merge: no partial states (0 slots)");
  if (rows == 0) return {};
  AAT_TRY(Kernel kernel, merge_kernel(context_, MergeKey{out_dtype, static_cast<std::uint32_t>(head_dim),
                                                                     to_state}));
  Bindings merging(kernel);
  AAT_CHECK(merging.bind(merge::binding::partial_o, partial_o));
  AAT_CHECK(merging.bind(merge::binding::partial_state, partial_state));
  AAT_CHECK(merging.bind(merge::binding::out_o, out));
  AAT_CHECK(merging.bind(to_state ? plugin_gen::attention::merge_state_f32::binding::out_state : merge::binding::out_lse, second));
  AAT_CHECK(merging.push_struct(merge::PushConstants{static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(slots)}));
  const std::uint32_t groups = ceil_div(static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(head_dim), kMergeWorkgroup);
  const std::uint32_t width = std::min<std::uint32_t>(groups, 65535);
  return stream.dispatch(merging, Workgroups{width, ceil_div(groups, width), 1}, to_state ? "attention.merge_state" : "attention.merge");
}

}  // namespace aat::attention
