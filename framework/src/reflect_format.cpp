// Names, sizes and the JSON/text renderings of a KernelInterface.
#include <bit>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/dtype.hpp"
#include "aat/reflect.hpp"

namespace aat {

std::string_view to_string(ScalarType type) {
  switch (type) {
    case ScalarType::boolean: return "bool";
    case ScalarType::i8: return "int8";
    case ScalarType::u8: return "uint8";
    case ScalarType::i16: return "int16";
    case ScalarType::u16: return "uint16";
    case ScalarType::f16: return "float16";
    case ScalarType::i32: return "int";
    case ScalarType::u32: return "uint";
    case ScalarType::f32: return "float";
    case ScalarType::i64: return "int64";
    case ScalarType::u64: return "uint64";
    case ScalarType::f64: return "double";
    case ScalarType::structure: return "struct";
    case ScalarType::unknown: return "unknown";
  }
  return "unknown";
}

std::uint32_t size_of(ScalarType type) {
  switch (type) {
    case ScalarType::i8: case ScalarType::u8: return 1;
    case ScalarType::i16: case ScalarType::u16: case ScalarType::f16: return 2;
    case ScalarType::boolean: case ScalarType::i32: case ScalarType::u32: case ScalarType::f32: return 4;
    case ScalarType::i64: case ScalarType::u64: case ScalarType::f64: return 8;
    default: return 0;
  }
}

std::string_view to_string(DescriptorKind kind) {
  switch (kind) {
    case DescriptorKind::storage_buffer: return "storage_buffer";
    case DescriptorKind::uniform_buffer: return "uniform_buffer";
    case DescriptorKind::storage_image: return "storage_image";
    case DescriptorKind::sampled_image: return "sampled_image";
    case DescriptorKind::sampler: return "sampler";
    case DescriptorKind::other: return "other";
  }
  return "other";
}

std::string_view to_string(Access access) {
  switch (access) {
    case Access::read_write: return "read_write";
    case Access::read_only: return "read_only";
    case Access::write_only: return "write_only";
  }
  return "read_write";
}

std::string TypeInfo::describe() const {
  std::string base(to_string(scalar));
  if (columns > 1) base = fmt::format("mat{}x{}<{}>", columns, vector_size, base);
  else if (vector_size > 1) base = fmt::format("vec{}<{}>", vector_size, base);
  for (std::uint32_t size : array) base += size ? fmt::format("[{}]", size) : "[]";
  return base;
}

std::uint32_t TypeInfo::component_count() const {
  std::uint32_t count = vector_size * columns;
  for (std::uint32_t size : array) count *= size;
  return count;
}

std::string SpecConstant::default_string() const {
  switch (type) {
    case ScalarType::boolean: return default_bits ? "true" : "false";
    case ScalarType::f32: return fmt::format("{}", std::bit_cast<float>(static_cast<std::uint32_t>(default_bits)));
    case ScalarType::f64: return fmt::format("{}", std::bit_cast<double>(default_bits));
    case ScalarType::f16: return fmt::format("{}", half_to_float(static_cast<std::uint16_t>(default_bits)));
    case ScalarType::i32: return fmt::format("{}", static_cast<std::int32_t>(default_bits));
    case ScalarType::i64: return fmt::format("{}", static_cast<std::int64_t>(default_bits));
    default: return fmt::format("{}", default_bits);
  }
}

namespace {

nlohmann::json members_json(const std::vector<BlockMember>& members) {
  auto out = nlohmann::json::array();
  for (const auto& m : members)
    out.push_back({{"name", m.name}, {"offset", m.offset}, {"size", m.size}, {"type", m.type.describe()}});
  return out;
}

}  // namespace

std::string KernelInterface::to_json(int indent) const {
  nlohmann::json out;
  out["entry_point"] = entry_point;
  auto& local = out["local_size"];
  for (int axis = 0; axis < 3; ++axis) {
    nlohmann::json dim = {{"default", local_size.size[axis]}};
    dim["spec_id"] = local_size.spec_id[axis] ? nlohmann::json(*local_size.spec_id[axis]) : nlohmann::json(nullptr);
    local[std::string(1, "xyz"[axis])] = dim;
  }
  out["bindings"] = nlohmann::json::array();
  for (const auto& b : bindings) {
    out["bindings"].push_back({{"set", b.set},
                               {"binding", b.binding},
                               {"name", b.name},
                               {"block", b.block_name},
                               {"kind", to_string(b.kind)},
                               {"access", to_string(b.access)},
                               {"array_size", b.array_size},
                               {"block_size", b.block_size},
                               {"runtime_array_stride", b.runtime_array_stride},
                               {"members", members_json(b.members)}});
  }
  if (push_constants) {
    out["push_constants"] = {{"name", push_constants->name},
                             {"size", push_constants->size},
                             {"members", members_json(push_constants->members)}};
  } else {
    out["push_constants"] = nullptr;
  }
  out["spec_constants"] = nlohmann::json::array();
  for (const auto& s : spec_constants)
    out["spec_constants"].push_back(
        {{"id", s.id}, {"name", s.name}, {"type", to_string(s.type)}, {"default", s.default_string()}});
  // Shared memory at the defaults (null where a length cannot be evaluated).
  const auto total = shared_bytes();
  auto& shared = out["shared_memory"];
  shared["bytes"] = total ? nlohmann::json(*total) : nlohmann::json(nullptr);
  shared["variables"] = nlohmann::json::array();
  for (const auto& v : shared_variables) {
    const auto layout = v.type.layout();
    shared["variables"].push_back({{"name", v.name}, {"bytes", layout ? nlohmann::json(layout->size) : nlohmann::json(nullptr)}});
  }
  // Names come from the module (OpName, OpMemberName): arbitrary bytes, not always UTF-8.
  return out.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string KernelInterface::to_text() const {
  std::string text = fmt::format("entry point: {}\nlocal size:", entry_point);
  for (int axis = 0; axis < 3; ++axis) {
    text += fmt::format(" {}={}", "xyz"[axis], local_size.size[axis]);
    if (local_size.spec_id[axis]) text += fmt::format(" (spec id {})", *local_size.spec_id[axis]);
  }
  text += "\nbindings:\n";
  if (bindings.empty()) text += "  (none)\n";
  for (const auto& b : bindings) {
    text += fmt::format("  set {} binding {}: {} '{}' ({}), {}, {} bytes fixed", b.set, b.binding, to_string(b.kind),
                        b.name, b.block_name, to_string(b.access), b.block_size);
    if (b.runtime_array_stride) text += fmt::format(" + n x {} bytes", b.runtime_array_stride);
    text += "\n";
    for (const auto& m : b.members) text += fmt::format("      +{:<5} {} {}\n", m.offset, m.type.describe(), m.name);
  }
  if (push_constants) {
    text += fmt::format("push constants '{}' ({} bytes):\n", push_constants->name, push_constants->size);
    for (const auto& m : push_constants->members)
      text += fmt::format("  +{:<5} {} {}\n", m.offset, m.type.describe(), m.name);
  } else {
    text += "push constants: (none)\n";
  }
  text += "specialization constants:\n";
  if (spec_constants.empty()) text += "  (none)\n";
  for (const auto& s : spec_constants)
    text += fmt::format("  id {}: {} {} = {}\n", s.id, to_string(s.type), s.name, s.default_string());
  if (const auto total = shared_bytes()) text += fmt::format("shared memory: {} bytes at the defaults\n", *total);
  else text += fmt::format("shared memory: unknown ({})\n", total.error().what());
  for (const auto& v : shared_variables) {
    const auto layout = v.type.layout();
    text += layout ? fmt::format("  {}: {} bytes\n", v.name, layout->size) : fmt::format("  {}: unknown\n", v.name);
  }
  return text;
}

}  // namespace aat
