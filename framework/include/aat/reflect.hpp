// Reflection: what a compute shader expects, read from its SPIR-V with SPIRV-Cross.
// The single source of truth for layouts, push constants and specialization constants.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aat/error.hpp"

namespace aat {

enum class ScalarType { boolean, i8, u8, i16, u16, f16, i32, u32, f32, i64, u64, f64, structure, unknown };
std::string_view to_string(ScalarType type);
std::uint32_t size_of(ScalarType type);  // bytes; 0 for structure/unknown (bool: 4, as a 32-bit value)

struct TypeInfo {
  ScalarType scalar = ScalarType::unknown;
  std::uint32_t vector_size = 1;            // components per column
  std::uint32_t columns = 1;                // > 1 for matrices
  std::vector<std::uint32_t> array;         // outermost first; 0 = runtime-sized
  std::string describe() const;             // "float", "vec3", "uint[4]", "float[]"
  std::uint32_t component_count() const;    // vector_size * columns * fixed array sizes
};

struct BlockMember {
  std::string name;
  std::uint32_t offset = 0;
  std::uint32_t size = 0;             // declared size (0 for a runtime array)
  std::uint32_t array_stride = 0;     // for arrays
  TypeInfo type;
};

enum class DescriptorKind { storage_buffer, uniform_buffer, storage_image, sampled_image, sampler, other };
enum class Access { read_write, read_only, write_only };
std::string_view to_string(DescriptorKind kind);
std::string_view to_string(Access access);

struct Binding {
  std::uint32_t set = 0;
  std::uint32_t binding = 0;
  std::string name;          // the instance name ("Q" in `buffer QBuf {...} Q;`), else the block name
  std::string block_name;    // the block type name ("QBuf")
  DescriptorKind kind = DescriptorKind::storage_buffer;
  Access access = Access::read_write;
  std::uint32_t array_size = 1;
  std::uint64_t block_size = 0;             // fixed part in bytes (runtime array counted as 0)
  std::uint32_t runtime_array_stride = 0;   // 0 when the block has no runtime array
  std::vector<BlockMember> members;
};

struct PushConstants {
  std::string name;
  std::uint32_t size = 0;  // bytes, up to the end of the last member
  std::vector<BlockMember> members;
  const BlockMember* find(std::string_view member) const;
};

struct SpecConstant {
  std::uint32_t id = 0;
  std::string name;
  ScalarType type = ScalarType::u32;
  std::uint64_t default_bits = 0;  // the default value's bit pattern (width of `type`)
  std::string default_string() const;
};

// Specialization-constant values by id, each as the bit pattern of its type (SpecConstant::default_bits).
using SpecBits = std::map<std::uint32_t, std::uint64_t>;

// A value specialization decides, as reflected: a literal, a specialization constant, a composite
// of such values (gl_WorkGroupSize) or an OpSpecConstantOp over them (`BLOCK_Q * HEAD_DIM + 1`).
// What sizes an array of shared memory.
struct SpecExpression {
  enum class Kind { literal, spec_constant, composite, operation };
  Kind kind = Kind::literal;
  ScalarType type = ScalarType::u32;     // of the value (a composite: of its members)
  std::uint64_t bits = 0;                // literal: the value; spec_constant: its default
  std::uint32_t spec_id = 0;             // spec_constant
  std::uint32_t opcode = 0;              // operation: the SPIR-V opcode OpSpecConstantOp applies
  std::vector<std::uint32_t> indices;    // operation OpCompositeExtract: the literal indices
  std::vector<SpecExpression> operands;  // operation: its operands; composite: its members

  // The value's bits with these specialization values (absent ids: their defaults). An
  // `invalid_argument` error for a division by zero, `unsupported` for an operation it does not
  // evaluate (floating point, anything but integer and boolean arithmetic, shifts, comparisons,
  // select, width conversions and composite extraction), naming it.
  Expected<std::uint64_t> evaluate(const SpecBits& values = {}) const;
};

// The type of a shared (Workgroup-storage) variable; its array lengths may be specialized.
struct SharedType {
  ScalarType scalar = ScalarType::unknown;  // structure: see members
  std::uint32_t vector_size = 1;
  std::uint32_t columns = 1;
  std::vector<SpecExpression> array;        // lengths, outermost first
  std::vector<SharedType> members;          // a structure's members, in order

  // Bytes and alignment as std430 lays the type out (vec3 aligned as vec4, arrays strided by
  // their element's aligned size, structures aligned to their largest member), for these
  // specialization values.
  struct Layout {
    std::uint64_t size = 0, alignment = 1;
  };
  Expected<Layout> layout(const SpecBits& values = {}) const;
};

struct SharedVariable {
  std::string name;  // "" when the module does not name it
  SharedType type;
};

struct LocalSize {
  std::array<std::uint32_t, 3> size{1, 1, 1};               // defaults
  std::array<std::optional<std::uint32_t>, 3> spec_id{};    // set when local_size_*_id is used
};

struct KernelInterface {
  std::string entry_point = "main";
  LocalSize local_size;
  std::vector<Binding> bindings;   // sorted by (set, binding)
  std::optional<PushConstants> push_constants;
  std::vector<SpecConstant> spec_constants;  // sorted by id
  std::vector<SharedVariable> shared_variables;  // every Workgroup-storage variable of the module

  // The shared memory the kernel needs specialized with `values` (absent ids: the defaults): the
  // sum of its shared variables as std430 lays each out. Errors as SpecExpression::evaluate,
  // naming the variable. Kernel::create refuses a specialization past the device's limit.
  Expected<std::uint64_t> shared_bytes(const SpecBits& values = {}) const;

  const Binding* find_binding(std::string_view name) const;  // instance or block name
  std::string binding_names() const;  // "'X', 'Y'" for messages; "none" without bindings
  const SpecConstant* find_spec(std::string_view name_or_id) const;
  std::string to_json(int indent = 2) const;
  std::string to_text() const;  // human-readable summary for `aat reflect`
};

// Validates the SPIR-V (check_spirv) and reflects its single compute entry point.
Expected<KernelInterface> reflect(std::span<const std::uint32_t> spirv);

}  // namespace aat
