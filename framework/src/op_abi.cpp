// The op side of the plugin ABI in libaat: the opaque handles, dtype bits, errors, and the
// checks that turn a plugin's C op table into an OpSignature.
#include "op_abi.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "aat/value.hpp"

namespace aat {

std::shared_ptr<Context> context_of(const aat_op_context* handle) { return handle ? handle->context : nullptr; }
Stream& stream_of(aat_op_stream* handle) { return *handle->stream; }
const Tensor& tensor_of(const aat_op_tensor* handle) { return handle->tensor; }

OpContextHandle::OpContextHandle(std::shared_ptr<Context> context)
    : handle_(std::make_unique<aat_op_context>(aat_op_context{std::move(context)})) {}
OpContextHandle::~OpContextHandle() = default;

namespace detail {

Expected<std::string> read_plugin_text(const char* text, std::size_t limit, const std::string& what, bool allow_empty) {
  if (!text) return fail(ErrorCode::plugin, what + " is null");
  const std::size_t length = strnlen(text, limit + 1);
  if (length > limit) return fail(ErrorCode::plugin, fmt::format("{} is longer than {} characters", what, limit));
  if (!allow_empty && length == 0) return fail(ErrorCode::plugin, what + " is empty");
  return std::string(text, length);
}

namespace {

constexpr std::size_t kMaxName = kMaxPluginName;
constexpr std::size_t kMaxText = kMaxPluginText;
constexpr std::size_t kMaxEntries = 64;
constexpr DType kDTypes[] = {DType::f32, DType::f16, DType::i32, DType::u8};

// Tensor and parameter names become CLI options (--name) and Python keywords.
Expected<std::string> read_argument_name(const char* text, const std::string& what) {
  AAT_TRY(std::string name, read_plugin_text(text, kMaxName, what, false));
  const bool valid = std::islower(static_cast<unsigned char>(name.front())) &&
                     std::all_of(name.begin(), name.end(), [](unsigned char c) {
                       return std::islower(c) || std::isdigit(c) || c == '_';
                     });
  if (!valid) return fail(ErrorCode::plugin, fmt::format("{} '{}' must be [a-z][a-z0-9_]*", what, name));
  return name;
}

}  // namespace

std::uint32_t dtype_bit(DType dtype) {
  switch (dtype) {
    case DType::f32: return AAT_OP_F32;
    case DType::f16: return AAT_OP_F16;
    case DType::i32: return AAT_OP_I32;
    case DType::u8: return AAT_OP_U8;
  }
  return 0;
}

std::optional<DType> dtype_of_bit(std::uint32_t bit) {
  for (const DType d : kDTypes)
    if (dtype_bit(d) == bit) return d;
  return std::nullopt;
}

std::uint32_t dtype_bits(const std::vector<DType>& dtypes) {
  std::uint32_t bits = 0;
  for (const DType d : dtypes) bits |= dtype_bit(d);
  return bits;
}

void to_op_error(const Error& error, aat_op_error* out) {
  if (!out) return;
  out->code = static_cast<std::uint32_t>(error.code()) + 1;
  const std::string text = error.what();
  const std::size_t n = std::min(text.size(), sizeof out->message - 1);
  std::memcpy(out->message, text.data(), n);
  out->message[n] = '\0';
}

Error from_op_error(const aat_op_error& error, const std::string& where) {
  const std::size_t length = strnlen(error.message, sizeof error.message);
  std::string message(error.message, length);
  if (message.empty()) message = where + " failed without saying why";
  const bool known = error.code >= 1 && error.code <= static_cast<std::uint32_t>(ErrorCode::internal) + 1;
  const ErrorCode code = known ? static_cast<ErrorCode>(error.code - 1) : ErrorCode::plugin;
  return Error(code, message);
}

Expected<OpSignature> read_op_signature(const aat_plugin_op& op) {
  OpSignature s;
  AAT_TRY(s.name, read_plugin_text(op.name, kMaxName, "an op's name", false));
  if (!std::all_of(s.name.begin(), s.name.end(), [](unsigned char c) {
        return std::islower(c) || std::isdigit(c) || c == '_' || c == '-';
      }))
    return fail(ErrorCode::plugin, fmt::format("op name '{}' must be lowercase letters, digits, '_' or '-'", s.name));
  const std::string where = "op '" + s.name + "'";
  AAT_TRY(s.summary, with_context(read_plugin_text(op.summary, kMaxText, "its summary", true), where));
  if (!op.plan || !op.destroy || (!op.record && !op.execute))
    return fail(ErrorCode::plugin, where + ": plan, destroy and record or execute are required");
  if (op.tensor_count > kMaxEntries || (op.tensor_count && !op.tensors) || op.param_count > kMaxEntries ||
      (op.param_count && !op.params))
    return fail(ErrorCode::plugin, fmt::format("{}: a table of {} tensors and {} parameters is invalid", where,
                                               op.tensor_count, op.param_count));
  // A tensor's or parameter's name (unique within the op) and summary; returns how errors name it.
  const auto read_head = [&](auto& rule, const char* name, const char* summary, std::string_view kind,
                             std::size_t i) -> Expected<std::string> {
    AAT_TRY(rule.name, with_context(read_argument_name(name, fmt::format("{} {}'s name", kind, i)), where));
    std::string entry_where = fmt::format("{}, {} '{}'", where, kind, rule.name);
    if (s.find_tensor(rule.name) || s.find_param(rule.name))
      return fail(ErrorCode::plugin, entry_where + ": the name is used twice");
    AAT_TRY(rule.summary, with_context(read_plugin_text(summary, kMaxText, "its summary", true), entry_where));
    return entry_where;
  };
  for (std::size_t i = 0; i < op.tensor_count; ++i) {
    const aat_op_tensor_info& t = op.tensors[i];
    OpTensorRule rule;
    AAT_TRY(const std::string tensor_where, read_head(rule, t.name, t.summary, "tensor", i));
    if (t.role > AAT_OP_OUTPUT || (t.flags & ~AAT_OP_OPTIONAL) || t.dtypes == 0 ||
        (t.dtypes & ~(AAT_OP_F32 | AAT_OP_F16 | AAT_OP_I32 | AAT_OP_U8)) || t.rank < -1 ||
        t.rank > static_cast<std::int32_t>(AAT_OP_MAX_RANK))
      return fail(ErrorCode::plugin, fmt::format("{}: role {}, flags {}, dtypes {} or rank {} is invalid", tensor_where,
                                                 t.role, t.flags, t.dtypes, t.rank));
    rule.role = t.role == AAT_OP_OUTPUT ? OpRole::output : OpRole::input;
    rule.optional = (t.flags & AAT_OP_OPTIONAL) != 0;
    for (const DType d : kDTypes)
      if (t.dtypes & dtype_bit(d)) rule.dtypes.push_back(d);
    rule.rank = t.rank;
    s.tensors.push_back(std::move(rule));
  }
  for (std::size_t i = 0; i < op.param_count; ++i) {
    const aat_op_param_info& p = op.params[i];
    OpParamRule rule;
    AAT_TRY(const std::string param_where, read_head(rule, p.name, p.summary, "parameter", i));
    const bool ranged = (p.flags & (AAT_OP_HAS_MIN | AAT_OP_HAS_MAX)) != 0;
    if (p.type > AAT_OP_TEXT || (p.flags & ~(AAT_OP_OPTIONAL | AAT_OP_HAS_MIN | AAT_OP_HAS_MAX)) ||
        (ranged && (p.type == AAT_OP_BOOL || p.type == AAT_OP_TEXT)) || std::isnan(p.min) || std::isnan(p.max))
      return fail(ErrorCode::plugin, fmt::format("{}: type {} or flags {} is invalid", param_where, p.type, p.flags));
    rule.type = static_cast<OpParamType>(p.type);
    rule.optional = (p.flags & AAT_OP_OPTIONAL) != 0;
    if (p.flags & AAT_OP_HAS_MIN) rule.min = p.min;
    if (p.flags & AAT_OP_HAS_MAX) rule.max = p.max;
    if (p.default_value) {
      AAT_TRY(std::string text, with_context(read_plugin_text(p.default_value, kMaxText, "its default", true), param_where));
      rule.default_value = std::move(text);
      AAT_CHECK(with_context(typed_op_value(rule, OpValue(*rule.default_value), "its default"), param_where));
    }
    s.params.push_back(std::move(rule));
  }
  return s;
}

}  // namespace detail

}  // namespace aat
