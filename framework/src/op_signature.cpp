// Op signatures: the rules of an op's tensors and parameters, and values typed by them.
#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/op.hpp"
#include "aat/value.hpp"

namespace aat {

std::string_view to_string(OpRole role) { return role == OpRole::input ? "input" : "output"; }

std::string_view to_string(OpParamType type) {
  switch (type) {
    case OpParamType::boolean: return "bool";
    case OpParamType::integer: return "int";
    case OpParamType::number: return "float";
    case OpParamType::text: return "text";
  }
  return "text";
}

bool OpTensorRule::takes(DType dtype) const {
  return std::find(dtypes.begin(), dtypes.end(), dtype) != dtypes.end();
}

std::string OpTensorRule::describe() const {
  std::string types;
  for (const DType d : dtypes) types += fmt::format("{}{}", types.empty() ? "" : "|", to_string(d));
  return rank < 0 ? types : fmt::format("{} of rank {}", types, rank);
}

const OpTensorRule* OpSignature::find_tensor(std::string_view tensor) const {
  for (const auto& t : tensors)
    if (t.name == tensor) return &t;
  return nullptr;
}

const OpParamRule* OpSignature::find_param(std::string_view param) const {
  for (const auto& p : params)
    if (p.name == param) return &p;
  return nullptr;
}

std::string OpSignature::tensor_names(OpRole role) const {
  std::string out;
  for (const auto& t : tensors)
    if (t.role == role) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", t.name);
  return out.empty() ? "none" : out;
}

std::string OpSignature::param_names() const {
  std::string out;
  for (const auto& p : params) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", p.name);
  return out.empty() ? "none" : out;
}

std::string OpSignature::to_json() const {
  nlohmann::json out = {{"name", name}, {"summary", summary}, {"tensors", nlohmann::json::array()},
                        {"params", nlohmann::json::array()}};
  for (const auto& t : tensors) {
    nlohmann::json dtypes = nlohmann::json::array();
    for (const DType d : t.dtypes) dtypes.push_back(std::string(to_string(d)));
    out["tensors"].push_back({{"name", t.name}, {"summary", t.summary}, {"role", std::string(to_string(t.role))},
                              {"optional", t.optional}, {"dtypes", dtypes}, {"rank", t.rank}});
  }
  for (const auto& p : params) {
    nlohmann::json param = {{"name", p.name}, {"summary", p.summary}, {"type", std::string(to_string(p.type))},
                            {"optional", p.optional}};
    param["default"] = p.default_value ? nlohmann::json(*p.default_value) : nlohmann::json(nullptr);
    param["min"] = p.min ? nlohmann::json(*p.min) : nlohmann::json(nullptr);
    param["max"] = p.max ? nlohmann::json(*p.max) : nlohmann::json(nullptr);
    out["params"].push_back(param);
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string TensorDesc::describe() const { return fmt::format("{}[{}]", to_string(dtype), shape_to_string(shape)); }

namespace {

// A typed OpValue as a Value; nullopt for text.
std::optional<Value> as_value(const OpValue& value) {
  if (const auto* b = std::get_if<bool>(&value)) return Value(*b);
  if (const auto* i = std::get_if<std::int64_t>(&value)) return Value(*i);
  if (const auto* d = std::get_if<double>(&value)) return Value(*d);
  return std::nullopt;
}

}  // namespace

Expected<OpValue> typed_op_value(const OpParamRule& param, const OpValue& value, std::string_view label) {
  const std::string where = fmt::format("{} ({})", label, to_string(param.type));
  const std::optional<Value> typed_in = as_value(value);
  if (param.type == OpParamType::text) {
    if (typed_in) return fail(ErrorCode::type_mismatch, fmt::format("{}: takes text, got {}", where, to_string(*typed_in)));
    return value;
  }
  // Text is parsed as the parameter's type; a typed value is checked as a push constant's is
  // (an integer takes no fraction, a bool takes only a bool).
  const ScalarType scalar = param.type == OpParamType::boolean   ? ScalarType::boolean
                            : param.type == OpParamType::integer ? ScalarType::i64
                                                                 : ScalarType::f64;
  Value typed;
  if (typed_in) {
    typed = *typed_in;
    AAT_CHECK(with_context(encode_value(typed, scalar), where));
  } else {
    AAT_TRY(typed, with_context(parse_value(std::get<std::string>(value), scalar), where));
  }
  if (param.type == OpParamType::boolean) return OpValue(std::get<bool>(typed));
  const double number = std::holds_alternative<double>(typed) ? std::get<double>(typed)
                                                              : static_cast<double>(std::get<std::int64_t>(typed));
  if ((param.min && !(number >= *param.min)) || (param.max && !(number <= *param.max))) {
    const auto bound = [](double b) { return fmt::format("{}", b); };
    const std::string range = param.min && param.max ? fmt::format("from {} to {}", bound(*param.min), bound(*param.max))
                              : param.min            ? fmt::format("at least {}", bound(*param.min))
                                                     : fmt::format("at most {}", bound(*param.max));
    return fail(ErrorCode::invalid_argument, fmt::format("{} must be {}, got {}", label, range, to_string(typed)));
  }
  if (param.type == OpParamType::integer) {
    if (const auto* d = std::get_if<double>(&typed)) return OpValue(static_cast<std::int64_t>(*d));
    return OpValue(std::get<std::int64_t>(typed));
  }
  return OpValue(number);
}

}  // namespace aat
