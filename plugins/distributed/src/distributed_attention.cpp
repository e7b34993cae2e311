#include "aat/distributed/distributed_attention.hpp"

#include <algorithm>
#include <cstring>
#include <future>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aat::distributed {

namespace {

using attention::AttentionShape;
using attention::AxisRange;
using attention::HeadBox;
using attention::KeyRange;
using attention::MultiDeviceAttention;
using attention::MultiDeviceOptions;
using attention::ShardMode;
using attention::ShardPlan;
using attention::WorkerShare;
using nlohmann::json;

// Message tags, one per kind, so a message can never be taken for another.
enum Tag : int { kAgree = 101, kVerdict, kQuery, kKeys, kHeads, kResult, kDone };

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// ---- what travels as JSON ------------------------------------------------------------------

json options_json(const MultiDeviceOptions& o, bool inputs_on_every_rank) {
  return {{"causal", o.causal},
          {"inputs_on_every_rank", inputs_on_every_rank},
          {"scale", o.scale ? json(*o.scale) : json(nullptr)},
          {"split", to_string(o.mode)},
          {"splits", o.splits ? json(*o.splits) : json(nullptr)},
          {"path", o.path ? json(to_string(*o.path)) : json(nullptr)}};
}

MultiDeviceOptions options_from(const json& j) {
  MultiDeviceOptions o;
  o.causal = j.at("causal").get<bool>();
  if (!j.at("scale").is_null()) o.scale = j.at("scale").get<float>();
  o.mode = attention::parse_shard_mode(j.at("split").get<std::string>()).value_or(ShardMode::automatic);
  if (!j.at("splits").is_null()) o.splits = j.at("splits").get<std::uint32_t>();
  if (!j.at("path").is_null())
    o.path = j.at("path").get<std::string>() == "scalar" ? attention::KernelPath::scalar
                                                          : attention::KernelPath::cooperative_matrix_nv;
  o.key_lengths = j.value("key_lengths", std::vector<std::int32_t>{});
  return o;
}

json shape_json(const AttentionShape& s) {
  return {{"batch", s.batch},   {"q_heads", s.q_heads},   {"kv_heads", s.kv_heads}, {"q_len", s.q_len},
          {"kv_len", s.kv_len}, {"head_dim", s.head_dim}, {"dtype", to_string(s.dtype)}, {"causal", s.causal}};
}

AttentionShape shape_from(const json& j) {
  AttentionShape s;
  s.batch = j.at("batch").get<std::int64_t>();
  s.q_heads = j.at("q_heads").get<std::int64_t>();
  s.kv_heads = j.at("kv_heads").get<std::int64_t>();
  s.q_len = j.at("q_len").get<std::int64_t>();
  s.kv_len = j.at("kv_len").get<std::int64_t>();
  s.head_dim = j.at("head_dim").get<std::int64_t>();
  s.dtype = parse_dtype(j.at("dtype").get<std::string>()).value_or(DType::f32);
  s.causal = j.at("causal").get<bool>();
  return s;
}

json share_json(const WorkerShare& w) {
  json keys = json::array();
  for (const auto& r : w.keys) keys.push_back({r.begin, r.end, r.causal});
  return {{"units", {w.unit_begin, w.unit_end}}, {"keys", keys}, {"flops", w.flops}};
}

WorkerShare share_from(const json& j) {
  WorkerShare w;
  w.unit_begin = j.at("units").at(0).get<std::int64_t>();
  w.unit_end = j.at("units").at(1).get<std::int64_t>();
  for (const auto& r : j.at("keys")) w.keys.push_back({r.at(0).get<std::int64_t>(), r.at(1).get<std::int64_t>(), r.at(2).get<bool>()});
  w.flops = j.at("flops").get<double>();
  return w;
}

json devices_json(const std::vector<attention::DeviceReport>& devices) {
  json list = json::array();
  for (const auto& d : devices)
    list.push_back({{"device", d.device}, {"share", d.share}, {"flops", d.flops}, {"gpu_ms", d.gpu_ms}, {"wall_ms", d.wall_ms}});
  return list;
}

std::vector<attention::DeviceReport> devices_from(const json& j) {
  std::vector<attention::DeviceReport> devices;
  for (const auto& d : j)
    devices.push_back({d.at("device").get<std::string>(), d.at("share").get<std::string>(), d.at("flops").get<double>(),
                       d.at("gpu_ms").get<double>(), d.at("wall_ms").get<double>()});
  return devices;
}

Expected<void> send_json(Communicator& comm, int to, int tag, const json& j, const Deadline& deadline) {
  const std::string text = j.dump();
  return comm.send(to, tag, std::as_bytes(std::span(text)), deadline);
}

Expected<json> receive_json(Communicator& comm, int from, int tag, const Deadline& deadline) {
  AAT_TRY(auto bytes, comm.receive(from, tag, deadline));
  try {
    return json::parse(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const json::exception& e) {
    return fail(ErrorCode::parse, fmt::format("a malformed message from {}: {}", comm.name_of(from), e.what()));
  }
}

// The one error every rank returns when the ranks agreed to stop.
std::unexpected<Error> agreed_error(const json& verdict) {
  const auto code = static_cast<ErrorCode>(verdict.value("code", static_cast<int>(ErrorCode::invalid_argument)));
  return std::unexpected(Error(code, verdict.value("error", std::string("the ranks stopped"))));
}

json failure_json(const std::string& message, ErrorCode code) {
  return {{"ok", false}, {"error", message}, {"code", static_cast<int>(code)}};
}

// Several ranks' problems in one message: "2 problems: rank 1 (a): ...; rank 2 (b): ...".
std::string join_problems(const std::vector<std::string>& problems) {
  return problems.size() == 1 ? problems.front()
                              : fmt::format("{} problems: {}", problems.size(), fmt::join(problems, "; "));
}

// What a rank's inputs are (shapes and dtypes), or why it has none; compared across the ranks.
json inputs_json(const Expected<RootInputs>& inputs) {
  if (!inputs) return {{"ok", false}, {"error", inputs.error().what()}, {"code", static_cast<int>(inputs.error().code())}};
  auto describe = [](const HostArray& a) { return fmt::format("{}[{}]", to_string(a.dtype), shape_to_string(a.shape)); };
  return {{"ok", true}, {"q", describe(inputs->q)}, {"k", describe(inputs->k)}, {"v", describe(inputs->v)}};
}

// ---- arrays as bytes -----------------------------------------------------------------------

std::span<const std::byte> bytes_of(const HostArray& a) { return a.data; }

Expected<HostArray> array_from(std::vector<std::byte> bytes, DType dtype, std::vector<std::int64_t> shape,
                              const std::string& what) {
  HostArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  const auto expected = static_cast<std::size_t>(a.element_count()) * size_of(dtype);
  if (bytes.size() != expected)
    return fail(ErrorCode::size_mismatch, fmt::format("{}: received {} bytes, {}[{}] holds {}", what, bytes.size(),
                                                      to_string(dtype), shape_to_string(a.shape), expected));
  a.data = std::move(bytes);
  return a;
}

std::vector<float> floats_from(const std::vector<std::byte>& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

// ---- the problem every rank works on, after the agreement ------------------------------------

struct Agreement {
  AttentionShape shape;
  MultiDeviceOptions options;
  ShardPlan plan;
  std::vector<int> first_worker;  // per rank: its first worker in plan.workers; first_worker[size] = end
  std::span<const WorkerShare> shares_of(int rank) const {
    const auto begin = static_cast<std::size_t>(first_worker[static_cast<std::size_t>(rank)]);
    const auto end = static_cast<std::size_t>(first_worker[static_cast<std::size_t>(rank) + 1]);
    return std::span(plan.workers).subspan(begin, end - begin);
  }
  std::int64_t group() const { return shape.q_heads / shape.kv_heads; }
  std::vector<std::int64_t> key_block_shape(const KeyRange& r) const {
    return {shape.batch, shape.kv_heads, r.size(), shape.head_dim};
  }
};

json agreement_json(const Agreement& a) {
  json plan = json::array();
  for (const auto& w : a.plan.workers) plan.push_back(share_json(w));
  json options = options_json(a.options, false);
  options["key_lengths"] = a.options.key_lengths;
  return {{"ok", true},
          {"shape", shape_json(a.shape)},
          {"options", options},
          {"mode", to_string(a.plan.mode)},
          {"reason", a.plan.reason},
          {"workers", plan},
          {"first_worker", a.first_worker}};
}

Agreement agreement_from(const json& j) {
  Agreement a;
  a.shape = shape_from(j.at("shape"));
  a.options = options_from(j.at("options"));
  a.plan.mode = attention::parse_shard_mode(j.at("mode").get<std::string>()).value_or(ShardMode::keys);
  a.plan.reason = j.at("reason").get<std::string>();
  for (const auto& w : j.at("workers")) a.plan.workers.push_back(share_from(w));
  a.first_worker = j.at("first_worker").get<std::vector<int>>();
  return a;
}

// Rank 0: every rank's report in, the verdict out. Problems of any rank stop all of them.
Expected<Agreement> agree_as_root(Communicator& comm, const json& mine, const Expected<RootInputs>& inputs,
                                  const DistributedOptions& options) {
  std::vector<json> reports{mine};
  for (int r = 1; r < comm.size(); ++r) {
    AAT_TRY(json report, receive_json(comm, r, kAgree, Deadline::in(options.timeout)));
    reports.push_back(std::move(report));
  }
  std::vector<std::string> problems;
  ErrorCode code = ErrorCode::invalid_argument;
  auto problem = [&](std::string text, ErrorCode c) {
    if (problems.empty()) code = c;
    problems.push_back(std::move(text));
  };
  for (int r = 0; r < comm.size(); ++r) {
    const json& report = reports[static_cast<std::size_t>(r)];
    if (!report.at("ok").get<bool>()) {
      problem(fmt::format("{}: {}", comm.name_of(r), report.at("error").get<std::string>()),
              static_cast<ErrorCode>(report.at("code").get<int>()));
      continue;
    }
    if (r > 0 && report.contains("inputs")) {
      const json& theirs = report.at("inputs");
      const json& ours = mine.at("inputs");
      if (!theirs.at("ok").get<bool>())
        problem(fmt::format("{}: {}", comm.name_of(r), theirs.at("error").get<std::string>()),
                static_cast<ErrorCode>(theirs.at("code").get<int>()));
      else if (ours.at("ok").get<bool>() && theirs != ours)
        problem(fmt::format("{} holds other inputs than rank 0: Q {}, K {}, V {} there; Q {}, K {}, V {} on rank 0",
                            comm.name_of(r), theirs.at("q").get<std::string>(), theirs.at("k").get<std::string>(),
                            theirs.at("v").get<std::string>(), ours.at("q").get<std::string>(),
                            ours.at("k").get<std::string>(), ours.at("v").get<std::string>()),
                ErrorCode::invalid_argument);
    }
    for (const char* key : {"settings", "options"})
      if (report.at(key) != mine.at(key))
        problem(fmt::format("{} was started with other {} than rank 0: {} there, {} on rank 0", comm.name_of(r), key,
                            report.at(key).dump(), mine.at(key).dump()),
                ErrorCode::invalid_argument);
  }
  Agreement a;
  a.options = options.attention;
  if (!inputs) {
    problem(fmt::format("{}: {}", comm.name_of(0), inputs.error().what()), inputs.error().code());
  } else {
    auto shape = MultiDeviceAttention::check(inputs->q, inputs->k, inputs->v, options.attention);
    if (shape) a.shape = *shape;
    else problem(fmt::format("{}: {}", comm.name_of(0), shape.error().what()), shape.error().code());
  }
  if (!problems.empty()) {
    const json verdict = failure_json(join_problems(problems), code);
    for (int r = 1; r < comm.size(); ++r) AAT_CHECK(send_json(comm, r, kVerdict, verdict, Deadline::in(options.timeout)));
    return agreed_error(verdict);
  }
  std::size_t workers = 0;
  a.first_worker.push_back(0);
  for (const auto& report : reports) {
    workers += report.at("devices").size();
    a.first_worker.push_back(static_cast<int>(workers));
  }
  a.plan = attention::plan_shards(a.shape, workers, options.attention.mode, options.attention.key_lengths);
  const json verdict = agreement_json(a);
  for (int r = 1; r < comm.size(); ++r) AAT_CHECK(send_json(comm, r, kVerdict, verdict, Deadline::in(options.timeout)));
  return a;
}

// Ranks wait twice as long for rank 0 as rank 0 waits for any of them: rank 0 may be waiting for
// a stuck rank itself before it can answer, and must be the one that names it.
Deadline wait_for_root(const DistributedOptions& options) { return Deadline::in(2 * options.timeout); }

Expected<Agreement> agree_as_member(Communicator& comm, const json& mine, const DistributedOptions& options) {
  AAT_CHECK(send_json(comm, 0, kAgree, mine, wait_for_root(options)));
  AAT_TRY(json verdict, receive_json(comm, 0, kVerdict, wait_for_root(options)));
  if (!verdict.at("ok").get<bool>()) return agreed_error(verdict);
  try {
    return agreement_from(verdict);
  } catch (const json::exception& e) {
    return fail(ErrorCode::parse, fmt::format("a malformed verdict from rank 0: {}", e.what()));
  }
}

// ---- what one rank computes ------------------------------------------------------------------

// A rank's share, computed: its state (keys) or its heads' O and L, in the order of its shares.
struct Outcome {
  std::optional<attention::HostState> state;  // keys, ranks > 0
  std::optional<attention::KeyStates> states; // keys, rank 0 (merged with the others' at the end)
  std::vector<attention::HeadResult> heads;
  std::vector<attention::DeviceReport> devices;
  double wall_ms = 0;
};

std::vector<HeadBox> boxes_of(std::span<const WorkerShare> shares, std::int64_t kv_heads) {
  std::vector<HeadBox> boxes;
  for (const auto& w : shares)
    for (const auto& b : attention::head_boxes(w.unit_begin, w.unit_end, kv_heads)) boxes.push_back(b);
  return boxes;
}

// The data a rank received (or, on rank 0, slices of its inputs).
struct RankData {
  HostArray q;                                              // keys: all of Q
  std::map<std::pair<std::int64_t, std::int64_t>, attention::KeyBlock> keys;  // by (begin, end)
  std::map<std::pair<std::int64_t, std::int64_t>, attention::HeadInputs> heads;  // by (batch, kv head)
};

Expected<Outcome> compute(MultiDeviceAttention& local, const Agreement& a, std::span<const WorkerShare> shares,
                          const RankData* received, const RootInputs* root, bool reduce) {
  const auto started = Clock::now();
  Outcome outcome;
  if (a.plan.mode == ShardMode::keys) {
    const attention::KeySource source = [&](const KeyRange& range) -> Expected<attention::KeyBlock> {
      if (root) return attention::key_block(root->k, root->v, range);
      const auto it = received->keys.find({range.begin, range.end});
      if (it == received->keys.end())
        return fail(ErrorCode::internal, fmt::format("keys {}..{} were not received", range.begin, range.end - 1));
      return it->second;
    };
    AAT_TRY(attention::KeyStates states, local.key_states(root ? root->q : received->q, source, shares, a.shape, a.options));
    outcome.devices = states.devices;
    if (reduce) {
      AAT_TRY(outcome.state, local.reduce(std::move(states), {}, a.shape));
    } else {
      outcome.states = std::move(states);
    }
  } else {
    const MultiDeviceAttention::HeadSource source = [&](const HeadBox& box) -> Expected<attention::HeadInputs> {
      if (root) return attention::head_inputs(root->q, root->k, root->v, box);
      const auto it = received->heads.find({box.batches.begin, box.kv_heads.begin});
      if (it == received->heads.end())
        return fail(ErrorCode::internal, fmt::format("the heads of batch {} head {} were not received",
                                                     box.batches.begin, box.kv_heads.begin));
      return it->second;
    };
    AAT_TRY(outcome.heads, local.head_results(source, shares, a.shape, a.options, outcome.devices));
  }
  outcome.wall_ms = ms_since(started);
  return outcome;
}

// ---- data ------------------------------------------------------------------------------------

std::vector<std::int64_t> head_shape(const Agreement& a, const HeadBox& box, bool queries, bool lse = false) {
  const std::int64_t heads = box.kv_heads.size() * (queries ? a.group() : 1);
  std::vector<std::int64_t> shape{box.batches.size(), heads, queries ? a.shape.q_len : a.shape.kv_len};
  if (!lse) shape.push_back(a.shape.head_dim);
  return shape;
}

Expected<void> send_data(Communicator& comm, int to, const Agreement& a, const RootInputs& in, const Deadline& deadline) {
  const auto shares = a.shares_of(to);
  if (a.plan.mode == ShardMode::keys) {
    bool any = false;
    for (const auto& w : shares) any = any || !w.keys.empty();
    if (!any) return {};
    AAT_CHECK(comm.send(to, kQuery, bytes_of(in.q), deadline));
    for (const auto& w : shares)
      for (const auto& range : w.keys) {
        AAT_TRY(attention::KeyBlock block, attention::key_block(in.k, in.v, range));
        AAT_CHECK(comm.send(to, kKeys, bytes_of(block.k), deadline));
        AAT_CHECK(comm.send(to, kKeys, bytes_of(block.v), deadline));
      }
    return {};
  }
  for (const auto& box : boxes_of(shares, a.shape.kv_heads)) {
    AAT_TRY(attention::HeadInputs boxes, attention::head_inputs(in.q, in.k, in.v, box));
    for (const attention::HostBox* b : {&boxes.q, &boxes.k, &boxes.v}) AAT_CHECK(comm.send(to, kHeads, b->bytes, deadline));
  }
  return {};
}

Expected<RankData> receive_data(Communicator& comm, const Agreement& a, const Deadline& deadline) {
  RankData data;
  const auto shares = a.shares_of(comm.rank());
  const DType dtype = a.shape.dtype;
  if (a.plan.mode == ShardMode::keys) {
    bool any = false;
    for (const auto& w : shares) any = any || !w.keys.empty();
    if (!any) return data;
    AAT_TRY(auto q, comm.receive(0, kQuery, deadline));
    AAT_TRY(data.q, array_from(std::move(q), dtype, {a.shape.batch, a.shape.q_heads, a.shape.q_len, a.shape.head_dim}, "Q"));
    for (const auto& w : shares)
      for (const auto& range : w.keys) {
        attention::KeyBlock block{range, {}, {}};
        const std::string what = fmt::format("keys {}..{}", range.begin, range.end - 1);
        AAT_TRY(auto k, comm.receive(0, kKeys, deadline));
        AAT_TRY(block.k, array_from(std::move(k), dtype, a.key_block_shape(range), "K of " + what));
        AAT_TRY(auto v, comm.receive(0, kKeys, deadline));
        AAT_TRY(block.v, array_from(std::move(v), dtype, a.key_block_shape(range), "V of " + what));
        data.keys.emplace(std::pair{range.begin, range.end}, std::move(block));
      }
    return data;
  }
  for (const auto& box : boxes_of(shares, a.shape.kv_heads)) {
    attention::HeadInputs in;
    for (auto [target, what, queries] : {std::tuple{&in.q, "Q", true}, {&in.k, "K", false}, {&in.v, "V", false}}) {
      AAT_TRY(auto bytes, comm.receive(0, kHeads, deadline));
      AAT_TRY(HostArray array, array_from(std::move(bytes), dtype, head_shape(a, box, queries),
                                         fmt::format("{} of a head box", what)));
      *target = attention::HostBox::owning(std::move(array));
    }
    data.heads.emplace(std::pair{box.batches.begin, box.kv_heads.begin}, std::move(in));
  }
  return data;
}

// ---- results ---------------------------------------------------------------------------------

Expected<void> send_outcome(Communicator& comm, const Expected<Outcome>& outcome, const Deadline& deadline) {
  if (!outcome) return send_json(comm, 0, kResult, failure_json(outcome.error().what(), outcome.error().code()), deadline);
  AAT_CHECK(send_json(comm, 0, kResult,
                      {{"ok", true}, {"devices", devices_json(outcome->devices)}, {"wall_ms", outcome->wall_ms}},
                      deadline));
  if (outcome->state) {
    AAT_CHECK(comm.send(0, kResult, std::as_bytes(std::span(outcome->state->o)), deadline));
    AAT_CHECK(comm.send(0, kResult, std::as_bytes(std::span(outcome->state->ml)), deadline));
  }
  for (const auto& r : outcome->heads) {
    AAT_CHECK(comm.send(0, kResult, bytes_of(r.out), deadline));
    AAT_CHECK(comm.send(0, kResult, bytes_of(r.lse), deadline));
  }
  return {};
}

// A rank's failure, as rank 0 reports it to all.
struct Problem {
  std::string text;
  ErrorCode code;
};

// Rank 0: rank `from`'s outcome. A rank that failed is a problem (returned, not an error).
Expected<std::optional<Problem>> receive_outcome(Communicator& comm, int from, const Agreement& a,
                                                     std::vector<attention::HostState>& states,
                                                     std::vector<attention::HeadResult>& heads,
                                                     std::vector<RankReport>& reports, const Deadline& deadline) {
  AAT_TRY(json header, receive_json(comm, from, kResult, deadline));
  if (!header.at("ok").get<bool>())
    return std::optional<Problem>(Problem{fmt::format("{}: {}", comm.name_of(from), header.at("error").get<std::string>()),
                                          static_cast<ErrorCode>(header.at("code").get<int>())});
  reports.push_back({from, comm.host_of(from), devices_from(header.at("devices")), header.at("wall_ms").get<double>()});
  const auto shares = a.shares_of(from);
  if (a.plan.mode == ShardMode::keys) {
    bool any = false;
    for (const auto& w : shares) any = any || !w.keys.empty();
    if (!any) return std::optional<Problem>();
    attention::HostState state;
    AAT_TRY(auto o, comm.receive(from, kResult, deadline));
    AAT_TRY(auto ml, comm.receive(from, kResult, deadline));
    state.o = floats_from(o);
    state.ml = floats_from(ml);
    states.push_back(std::move(state));
    return std::optional<Problem>();
  }
  for (const auto& box : boxes_of(shares, a.shape.kv_heads)) {
    attention::HeadResult r{box, {}, {}};
    AAT_TRY(auto out, comm.receive(from, kResult, deadline));
    AAT_TRY(r.out, array_from(std::move(out), a.shape.dtype, head_shape(a, box, true), "O of a head box"));
    AAT_TRY(auto lse, comm.receive(from, kResult, deadline));
    AAT_TRY(r.lse, array_from(std::move(lse), DType::f32, head_shape(a, box, true, true), "L of a head box"));
    heads.push_back(std::move(r));
  }
  return std::optional<Problem>();
}

int preference(DeviceType t) {
  switch (t) {
    case DeviceType::discrete_gpu: return 0;
    case DeviceType::integrated_gpu: return 1;
    case DeviceType::virtual_gpu: return 2;
    case DeviceType::cpu: return 3;
    default: return 4;
  }
}

}  // namespace

Expected<std::vector<std::string>> rank_devices(const Communicator& comm, const std::string& list) {
  if (!list.empty()) return parse_device_list(list);
  AAT_TRY(auto devices, Context::enumerate_devices());
  if (devices.empty()) return fail(ErrorCode::no_device, "no Vulkan device on this host");
  std::stable_sort(devices.begin(), devices.end(),
                   [](const DeviceInfo& a, const DeviceInfo& b) { return preference(a.type) < preference(b.type); });
  return std::vector<std::string>{
      std::to_string(devices[static_cast<std::size_t>(comm.local_rank()) % devices.size()].index)};
}

Expected<DistributedResult> run_attention(Communicator& comm, Expected<MultiDeviceAttention>& local,
                                          const Expected<RootInputs>* inputs, const DistributedOptions& options) {
  const auto started = Clock::now();
  auto phase = [&](std::string_view name) {
    if (options.on_phase) options.on_phase(name);
  };
  const bool root = comm.rank() == 0;
  const bool everywhere = options.inputs_on_every_rank;
  if ((root || everywhere) && !inputs)
    return fail(ErrorCode::invalid_argument, fmt::format("run_attention: {} needs its inputs", comm.name_of(comm.rank())));

  phase("agree");
  json mine = {{"ok", local.has_value()},
               {"settings", options.settings},
               {"options", options_json(options.attention, everywhere)}};
  if (everywhere) mine["inputs"] = inputs_json(*inputs);
  if (local) {
    json names = json::array();
    for (const auto& c : local->devices().contexts()) names.push_back(c->device().name);
    mine["devices"] = names;
  } else {
    mine["error"] = local.error().what();
    mine["code"] = static_cast<int>(local.error().code());
  }
  AAT_TRY(Agreement a, root ? agree_as_root(comm, mine, *inputs, options) : agree_as_member(comm, mine, options));
  const auto shares = a.shares_of(comm.rank());

  DistributedResult result;
  result.plan = a.plan;
  result.flops = attention::attention_flops(a.shape);
  phase("data");
  if (!root) {
    RankData data;
    if (!everywhere) {
      AAT_TRY(data, receive_data(comm, a, wait_for_root(options)));
    }
    phase("compute");
    const Expected<Outcome> outcome = everywhere ? compute(*local, a, shares, nullptr, &**inputs, true)
                                                 : compute(*local, a, shares, &data, nullptr, true);
    phase("combine");
    AAT_CHECK(send_outcome(comm, outcome, wait_for_root(options)));
    AAT_TRY(json done, receive_json(comm, 0, kDone, wait_for_root(options)));
    if (!done.at("ok").get<bool>()) return agreed_error(done);
    result.wall_ms = ms_since(started);
    return result;
  }

  // Rank 0 computes its own share on its device threads while it sends the others theirs.
  const RootInputs& in = **inputs;
  phase("compute");
  auto mine_done = std::async(std::launch::async, [&] { return compute(*local, a, shares, nullptr, &in, false); });
  const auto sending = Clock::now();
  Expected<void> sent;
  for (int r = 1; r < comm.size() && sent && !everywhere; ++r)
    sent = send_data(comm, r, a, in, Deadline::in(options.timeout));
  result.data_wall_ms = ms_since(sending);
  Expected<Outcome> own = mine_done.get();
  AAT_CHECK(sent);

  phase("combine");
  const auto merging = Clock::now();
  std::vector<Problem> problems;
  std::vector<attention::HostState> states;
  std::vector<attention::HeadResult> heads;
  if (own) {
    result.ranks.push_back({0, comm.host(), own->devices, own->wall_ms});
    heads = std::move(own->heads);
  } else {
    problems.push_back({fmt::format("{}: {}", comm.name_of(0), own.error().what()), own.error().code()});
  }
  for (int r = 1; r < comm.size(); ++r) {
    AAT_TRY(auto problem, receive_outcome(comm, r, a, states, heads, result.ranks, Deadline::in(options.timeout)));
    if (problem) problems.push_back(*problem);
  }
  Expected<void> merged;
  if (problems.empty()) {
    if (a.plan.mode == ShardMode::keys) {
      auto gpu_ms = local->finish(std::move(*own->states), std::move(states), a.shape, result.out, result.lse);
      if (!gpu_ms) merged = std::unexpected(std::move(gpu_ms.error()));
    } else {
      result.out = attention::zeros(a.shape.dtype, {a.shape.batch, a.shape.q_heads, a.shape.q_len, a.shape.head_dim});
      result.lse = attention::zeros(DType::f32, {a.shape.batch, a.shape.q_heads, a.shape.q_len});
      for (const auto& r : heads) {
        if (!merged) break;
        const std::array<std::int64_t, 2> corner{r.box.batches.begin, r.box.kv_heads.begin * a.group()};
        merged = attention::place(result.out, corner, r.out);
        if (merged) merged = attention::place(result.lse, corner, r.lse);
      }
    }
    if (!merged) problems.push_back({fmt::format("{}: merging: {}", comm.name_of(0), merged.error().what()),
                                     merged.error().code()});
  }
  result.merge_wall_ms = ms_since(merging);
  json done = {{"ok", true}};
  if (!problems.empty()) {
    std::vector<std::string> texts;
    for (const auto& p : problems) texts.push_back(p.text);
    done = failure_json(join_problems(texts), problems.front().code);
  }
  for (int r = 1; r < comm.size(); ++r) AAT_CHECK(send_json(comm, r, kDone, done, Deadline::in(options.timeout)));
  if (!problems.empty()) return agreed_error(done);
  result.wall_ms = ms_since(started);
  return result;
}

}  // namespace aat::distributed
