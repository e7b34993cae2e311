// Shared memory from the reflection: every Workgroup variable's array lengths as expressions of
// specialization constants, evaluated for given values and laid out as std430 — checked against
// counts made by hand — and Kernel::create refusing a specialization past the device's limit.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "aat/kernel.hpp"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"
#include "device_test.hpp"

namespace aat {
namespace {

using aat::testing::unwrap;

// Each kind of length and element the reflection must size, all used so nothing is dropped.
constexpr const char* kSharedShader = R"(#version 450
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint N = 4u;
layout(constant_id = 2) const uint M = 3u;
layout(constant_id = 3) const bool WIDE = false;

struct Cell { vec3 position; float weight; uint flags; };  // std430: 12 + 4 + 4 = 20, aligned to 16 -> 32

shared float a[N * 2u + 1u];          // OpSpecConstantOp IMul, IAdd: 4 (2N + 1)
shared uvec4 b[M];                    // a specialization constant: 16 M
shared Cell cells[N];                 // a structure element: 32 N
shared uint d[gl_WorkGroupSize.x];    // OpCompositeExtract of the workgroup size: 4 x
shared int e[WIDE ? 8 : 2];           // OpSelect: 4 x (8 or 2)
shared vec2 f[2][N];                  // an array of arrays: 8 x 2N
shared vec3 g[5];                     // vec3 strided as vec4: 16 x 5
shared mat3 m;                        // three columns strided as vec4: 48
shared uint fixed_length[7];          // a literal length: 28

layout(std430, binding = 0) buffer Out { float values[]; };

void main() {
  uint i = gl_LocalInvocationID.x;
  a[i % (N * 2u + 1u)] = 1.0;
  b[i % M] = uvec4(i);
  cells[i % N].weight = 2.0;
  cells[i % N].position = vec3(1.0);
  cells[i % N].flags = i;
  d[i] = i;
  e[i % 2u] = int(i);
  f[i % 2u][i % N] = vec2(3.0);
  g[i % 5u] = vec3(4.0);
  m[i % 3u] = vec3(5.0);
  fixed_length[i % 7u] = i;
  barrier();
  values[i] = a[0] + float(b[0].x) + cells[0].weight + cells[0].position.x + float(cells[0].flags) + float(d[0]) +
              float(e[0]) + f[1][0].y + g[0].z + m[2].y + float(fixed_length[6]);
}
)";

// The hand count for N, M, WIDE and local size x.
std::uint64_t hand_count(std::uint64_t n, std::uint64_t m, bool wide, std::uint64_t x) {
  return 4 * (2 * n + 1) + 16 * m + 32 * n + 4 * x + 4 * (wide ? 8 : 2) + 8 * 2 * n + 16 * 5 + 48 + 28;
}

class SharedMemoryReflection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ShaderCompiler compiler;
    auto spirv = compiler.compile(kSharedShader, "shared.comp");
    ASSERT_TRUE(spirv.has_value()) << spirv.error().what();
    auto reflected = reflect(*spirv);
    ASSERT_TRUE(reflected.has_value()) << reflected.error().what();
    interface_ = new KernelInterface(std::move(*reflected));
  }
  static void TearDownTestSuite() {
    delete interface_;
    interface_ = nullptr;
  }
  static const KernelInterface& interface() { return *interface_; }
  static std::uint64_t bytes(const SpecValues& values) {
    const SpecBits bits = unwrap(specialization_bits(interface(), values, "shared.comp"), "specialization_bits");
    return unwrap(interface().shared_bytes(bits), "shared_bytes");
  }

 private:
  static inline KernelInterface* interface_ = nullptr;
};

TEST_F(SharedMemoryReflection, ListsEveryWorkgroupVariable) {
  std::string names;
  for (const auto& v : interface().shared_variables) names += v.name + " ";
  EXPECT_EQ(names, "a b cells d e f g m fixed_length ");
  const SharedVariable& a = interface().shared_variables.front();
  ASSERT_EQ(a.type.array.size(), 1u);
  EXPECT_EQ(a.type.array[0].kind, SpecExpression::Kind::operation);  // N * 2 + 1
  EXPECT_EQ(interface().shared_variables[1].type.array[0].kind, SpecExpression::Kind::spec_constant);
  EXPECT_EQ(interface().shared_variables[2].type.scalar, ScalarType::structure);
  EXPECT_EQ(interface().shared_variables[2].type.members.size(), 3u);
}

TEST_F(SharedMemoryReflection, DefaultsEqualTheHandCount) {
  EXPECT_EQ(bytes({}), hand_count(4, 3, false, 1));
  EXPECT_EQ(unwrap(interface().shared_bytes()), hand_count(4, 3, false, 1));
  // `aat reflect` shows them, in text and JSON.
  const auto json = nlohmann::json::parse(interface().to_json());
  EXPECT_EQ(json["shared_memory"]["bytes"], hand_count(4, 3, false, 1));
  EXPECT_EQ(json["shared_memory"]["variables"][2]["name"], "cells");
  EXPECT_EQ(json["shared_memory"]["variables"][2]["bytes"], 32 * 4);
  EXPECT_NE(interface().to_text().find("shared memory: " + std::to_string(hand_count(4, 3, false, 1)) +
                                       " bytes at the defaults"),
            std::string::npos)
      << interface().to_text();
}

TEST_F(SharedMemoryReflection, SpecializedValuesEqualTheHandCount) {
  EXPECT_EQ(bytes({{"N", Value(std::int64_t{10})}, {"M", Value(std::int64_t{1})}, {"WIDE", Value(true)},
                   {"local_size_x", Value(std::int64_t{64})}}),
            hand_count(10, 1, true, 64));
  EXPECT_EQ(bytes({{"1", Value(std::int64_t{100})}}), hand_count(100, 3, false, 1));  // by id
}

TEST_F(SharedMemoryReflection, UnknownConstantIsNamed) {
  const auto bits = specialization_bits(interface(), {{"NOPE", Value(std::int64_t{1})}}, "shared.comp");
  ASSERT_FALSE(bits.has_value());
  EXPECT_EQ(bits.error().code(), ErrorCode::not_found);
  EXPECT_NE(bits.error().what().find("'NOPE'"), std::string::npos) << bits.error().what();
  EXPECT_NE(bits.error().what().find("N (id 1)"), std::string::npos) << bits.error().what();
}

// Constants may share operands, so a length's tree may grow exponentially with the module: past
// a bound the reflection refuses it (a module crafted to exhaust memory gets an error, not a hang).
TEST(SharedMemoryReflectionBound, ExponentialLengthIsRefused) {
  std::string source = "#version 450\nlayout(local_size_x = 1) in;\nlayout(constant_id = 0) const uint N = 1u;\n"
                       "const uint A0 = N;\n";
  for (int i = 1; i <= 13; ++i) source += "const uint A" + std::to_string(i) + " = A" + std::to_string(i - 1) + " + A" +
                                          std::to_string(i - 1) + ";\n";  // 2^13 leaves
  source += "shared float x[A13];\nlayout(std430, binding = 0) buffer Out { float v[]; };\n"
            "void main() { x[0] = 1.0; barrier(); v[0] = x[0]; }\n";
  ShaderCompiler compiler;
  const Spirv spirv = unwrap(compiler.compile(source, "chain.comp"), "compile");
  const auto reflected = reflect(spirv);
  ASSERT_FALSE(reflected.has_value());
  EXPECT_NE(reflected.error().what().find("more than 4096 constants"), std::string::npos) << reflected.error().what();
}

// The evaluator's arithmetic on hand-built expressions: signed and unsigned operations at the
// width of their type, and what it refuses.
SpecExpression literal(std::uint64_t bits, ScalarType type = ScalarType::u32) {
  SpecExpression e;
  e.type = type;
  e.bits = bits;
  return e;
}

SpecExpression operation(std::uint32_t opcode, std::vector<SpecExpression> operands, ScalarType type = ScalarType::u32) {
  SpecExpression e;
  e.kind = SpecExpression::Kind::operation;
  e.opcode = opcode;
  e.type = type;
  e.operands = std::move(operands);
  return e;
}

TEST(SpecExpression, EvaluatesAtTheWidthOfItsType) {
  SpecExpression spec;
  spec.kind = SpecExpression::Kind::spec_constant;
  spec.spec_id = 7;
  spec.bits = 5;
  constexpr std::uint32_t kIAdd = 128, kISub = 130, kSDiv = 135, kUDiv = 134, kSMod = 139, kSelect = 169;
  EXPECT_EQ(unwrap(operation(kIAdd, {spec, literal(1)}).evaluate()), 6u);
  EXPECT_EQ(unwrap(operation(kIAdd, {spec, literal(1)}).evaluate({{7, 41}})), 42u);
  // 32-bit wrap-around, and signed division of -6 by 4 (truncating) and modulo (the divisor's sign).
  EXPECT_EQ(unwrap(operation(kISub, {literal(0), literal(1)}).evaluate()), 0xffffffffu);
  const SpecExpression minus6 = literal(static_cast<std::uint32_t>(-6), ScalarType::i32);
  EXPECT_EQ(unwrap(operation(kSDiv, {minus6, literal(4, ScalarType::i32)}, ScalarType::i32).evaluate()),
            static_cast<std::uint32_t>(-1));
  EXPECT_EQ(unwrap(operation(kSMod, {minus6, literal(4, ScalarType::i32)}, ScalarType::i32).evaluate()), 2u);
  EXPECT_EQ(unwrap(operation(kSelect, {literal(0, ScalarType::boolean), literal(8), literal(2)}).evaluate()), 2u);
  const auto by_zero = operation(kUDiv, {literal(1), literal(0)}).evaluate();
  ASSERT_FALSE(by_zero.has_value());
  EXPECT_NE(by_zero.error().what().find("divides by zero"), std::string::npos) << by_zero.error().what();
  constexpr std::uint32_t kFAdd = 129;
  const auto refused = operation(kFAdd, {literal(1), literal(1)}).evaluate();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::unsupported);
  EXPECT_NE(refused.error().what().find("opcode 129"), std::string::npos) << refused.error().what();
}

// On the device: the kernel reports its specialized shared memory, and a specialization that needs
// more than the device has is refused before the driver sees it, naming shared memory, the bytes
// and the limit.
class SharedMemoryLimit : public aat::testing::DeviceTest {};

TEST_F(SharedMemoryLimit, KernelReportsItsSpecializedBytes) {
  const Spirv spirv = compile(kSharedShader, "shared.comp");
  KernelOptions options;
  options.spec = {{"N", Value(std::int64_t{8})}, {"local_size_x", Value(std::int64_t{32})}};
  const Kernel kernel = unwrap(Kernel::create(context(), spirv, "shared", options), "Kernel::create");
  EXPECT_EQ(kernel.shared_bytes(), hand_count(8, 3, false, 32));
}

TEST_F(SharedMemoryLimit, SpecializationPastTheLimitIsRefused) {
  const Spirv spirv = compile(kSharedShader, "shared.comp");
  const std::uint64_t limit = context()->device().limits.max_shared_memory_bytes;
  // Grow N until the count passes the limit: 4 (2N + 1) + 32 N + 16 N + ... > limit.
  std::int64_t n = 1;
  while (hand_count(static_cast<std::uint64_t>(n), 3, false, 1) <= limit) n *= 2;
  KernelOptions options;
  options.spec = {{"N", Value(n)}};
  const auto kernel = Kernel::create(context(), spirv, "too_big", options);
  ASSERT_FALSE(kernel.has_value());
  EXPECT_EQ(kernel.error().code(), ErrorCode::unsupported);
  const std::string message = kernel.error().what();
  EXPECT_NE(message.find("shared memory"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(hand_count(static_cast<std::uint64_t>(n), 3, false, 1)) + " bytes"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("has " + std::to_string(limit)), std::string::npos) << message;
  EXPECT_NE(message.find("'too_big'"), std::string::npos) << message;
}

}  // namespace
}  // namespace aat
