// The plugin ABI's op types on the framework's side: the opaque handles' definitions, dtype
// bits, and errors across the C table. Private to the framework.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "aat/op.hpp"
#include "aat/plugin_abi.h"

// The opaque handles of plugin_abi.h. Only libaat sees inside them.
struct aat_op_context {
  std::shared_ptr<aat::Context> context;
};
struct aat_op_stream {
  aat::Stream* stream = nullptr;
};
struct aat_op_tensor {
  aat::Tensor tensor;
};

namespace aat::detail {

// A plugin's limits on names (commands, kernels, ops, arguments) and on texts (summaries).
inline constexpr std::size_t kMaxPluginName = 128;
inline constexpr std::size_t kMaxPluginText = 4096;

// A C string from a plugin, checked: not null, at most `limit` characters, empty only when
// allowed; errors start with `what`.
Expected<std::string> read_plugin_text(const char* text, std::size_t limit, const std::string& what, bool allow_empty);

std::uint32_t dtype_bit(DType dtype);
std::optional<DType> dtype_of_bit(std::uint32_t bit);
std::uint32_t dtype_bits(const std::vector<DType>& dtypes);

// An Error into the C struct (message truncated to fit), and back.
void to_op_error(const Error& error, aat_op_error* out);
Error from_op_error(const aat_op_error& error, const std::string& where);

// A plugin's op table checked and copied (names, rules, defaults, functions).
Expected<OpSignature> read_op_signature(const aat_plugin_op& op);

}  // namespace aat::detail
