// Reflection: the interface AAT derives from SPIR-V — bindings with access and sizes, push
// constants with std430 offsets, specialization constants and the local size — checked
// against values computed by hand from the GLSL layout rules.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aat/reflect.hpp"
#include "aat/shader.hpp"

namespace {

using aat::Access;
using aat::DescriptorKind;
using aat::ErrorCode;
using aat::KernelInterface;
using aat::ScalarType;

// Everything the reflection must see, all of it used so the optimiser keeps it.
constexpr const char* kInterfaceShader = R"(#version 450
layout(local_size_x = 16, local_size_y = 2) in;
layout(local_size_x_id = 3, local_size_y_id = 4) in;

layout(constant_id = 0) const bool USE_BIAS = true;
layout(constant_id = 1) const int OFFSET = -5;
layout(constant_id = 2) const uint TILE = 16u;
layout(constant_id = 5) const float SCALE = 0.5;

struct Item { vec3 position; float weight; uint flags; };  // std430: 12 + 4 + 4 = 20, aligned to 16 -> 32

layout(std430, set = 0, binding = 0) readonly buffer InBuf { float header[4]; Item items[]; } In;
layout(std430, set = 0, binding = 1) writeonly buffer OutBuf { vec4 result[8]; } Out;
layout(std430, set = 1, binding = 0) buffer StateBuf { uint counter; int values[3]; } State;
layout(std140, set = 1, binding = 2) uniform ParamsBuf { mat4 transform; vec4 tint; float gain; } P;
layout(std430, set = 1, binding = 3) readonly buffer TableBuf { uint entries[]; } tables[2];

layout(push_constant) uniform Push {
  float f;     // 0
  int i;       // 4
  uint u;      // 8
  vec2 v2;     // 16 (8-aligned)
  vec4 v4;     // 32 (16-aligned)
  uint arr[3]; // 48, stride 4
} pc;

void main() {
  uint g = gl_GlobalInvocationID.x;
  float acc = In.header[g % 4u] + In.items[g].weight + In.items[g].position.x + float(In.items[g].flags);
  acc += P.transform[0][0] * P.tint.x * P.gain;
  acc += pc.f + float(pc.i) + float(pc.u) + pc.v2.y + pc.v4.w + float(pc.arr[g % 3u]);
  acc += float(tables[0].entries[g] + tables[1].entries[g]);
  if (USE_BIAS) acc += float(OFFSET) + float(TILE) * SCALE;
  Out.result[g % 8u] = vec4(acc);
  State.counter = g;
  State.values[g % 3u] = int(acc);
}
)";

constexpr const char* kMinimalShader = R"(#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Data { uint values[]; };
void main() { values[gl_GlobalInvocationID.x] = 1u; }
)";

class ReflectTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    aat::ShaderCompiler compiler;
    auto spirv = compiler.compile(kInterfaceShader, "interface.comp");
    ASSERT_TRUE(spirv.has_value()) << spirv.error().what();
    spirv_ = new aat::Spirv(std::move(*spirv));
    auto reflected = aat::reflect(*spirv_);
    ASSERT_TRUE(reflected.has_value()) << reflected.error().what();
    interface_ = new KernelInterface(std::move(*reflected));
  }
  static void TearDownTestSuite() {
    delete interface_;
    delete spirv_;
    interface_ = nullptr;
    spirv_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(interface_, nullptr) << "the interface shader did not compile or reflect"; }

  static const KernelInterface& interface() { return *interface_; }
  static const aat::Binding& binding(const std::string& name) {
    const aat::Binding* b = interface_->find_binding(name);
    if (b == nullptr) throw std::runtime_error("no binding " + name);
    return *b;
  }
  static const aat::BlockMember& push_member(const std::string& name) {
    const aat::BlockMember* m = interface_->push_constants->find(name);
    if (m == nullptr) throw std::runtime_error("no push member " + name);
    return *m;
  }
  static const aat::SpecConstant& spec(const std::string& name) {
    const aat::SpecConstant* s = interface_->find_spec(name);
    if (s == nullptr) throw std::runtime_error("no spec constant " + name);
    return *s;
  }

 private:
  static inline aat::Spirv* spirv_ = nullptr;
  static inline KernelInterface* interface_ = nullptr;
};

// --- bindings ----------------------------------------------------------------------------

TEST_F(ReflectTest, BindingsAreSortedBySetThenBinding) {
  std::vector<std::string> names;
  for (const auto& b : interface().bindings) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"In", "Out", "State", "P", "tables"}));
  EXPECT_EQ(binding("In").set, 0u);
  EXPECT_EQ(binding("In").binding, 0u);
  EXPECT_EQ(binding("Out").set, 0u);
  EXPECT_EQ(binding("Out").binding, 1u);
  EXPECT_EQ(binding("State").set, 1u);
  EXPECT_EQ(binding("State").binding, 0u);
  EXPECT_EQ(binding("P").set, 1u);
  EXPECT_EQ(binding("P").binding, 2u);
}

TEST_F(ReflectTest, InstanceAndBlockNamesBothFindABinding) {
  EXPECT_EQ(&binding("InBuf"), &binding("In"));
  EXPECT_EQ(binding("In").block_name, "InBuf");
  EXPECT_EQ(interface().find_binding("NoSuchBuffer"), nullptr);
}

TEST_F(ReflectTest, AccessFollowsReadonlyWriteonlyQualifiers) {
  EXPECT_EQ(binding("In").access, Access::read_only);
  EXPECT_EQ(binding("Out").access, Access::write_only);
  EXPECT_EQ(binding("State").access, Access::read_write);
}

TEST_F(ReflectTest, StorageAndUniformBuffersAreTold) {
  EXPECT_EQ(binding("In").kind, DescriptorKind::storage_buffer);
  EXPECT_EQ(binding("P").kind, DescriptorKind::uniform_buffer);
  EXPECT_EQ(binding("P").access, Access::read_only);
}

TEST_F(ReflectTest, UniformBlockFollowsStd140) {
  const auto& p = binding("P");
  EXPECT_EQ(p.block_size, 84u);  // mat4 64 + vec4 16 + float 4
  ASSERT_EQ(p.members.size(), 3u);
  EXPECT_EQ(p.members[0].name, "transform");
  EXPECT_EQ(p.members[0].type.columns, 4u);
  EXPECT_EQ(p.members[0].type.vector_size, 4u);
  EXPECT_EQ(p.members[1].offset, 64u);
  EXPECT_EQ(p.members[2].offset, 80u);
  EXPECT_EQ(p.runtime_array_stride, 0u);
}

TEST_F(ReflectTest, FixedSizeArraysHaveSizeAndStride) {
  const auto& out = binding("Out");
  EXPECT_EQ(out.block_size, 8u * 16);
  ASSERT_EQ(out.members.size(), 1u);
  EXPECT_EQ(out.members[0].type.array, (std::vector<std::uint32_t>{8}));
  EXPECT_EQ(out.members[0].type.vector_size, 4u);
  EXPECT_EQ(out.members[0].array_stride, 16u);
  EXPECT_EQ(out.members[0].size, 128u);
  EXPECT_EQ(out.members[0].type.component_count(), 32u);

  const auto& state = binding("State");
  EXPECT_EQ(state.block_size, 16u);  // uint at 0, int[3] at 4 with std430 stride 4
  ASSERT_EQ(state.members.size(), 2u);
  EXPECT_EQ(state.members[1].name, "values");
  EXPECT_EQ(state.members[1].offset, 4u);
  EXPECT_EQ(state.members[1].array_stride, 4u);
  EXPECT_EQ(state.members[1].type.scalar, ScalarType::i32);
}

TEST_F(ReflectTest, RuntimeArrayOfStructsHasTheStructStride) {
  const auto& in = binding("In");
  EXPECT_EQ(in.block_size, 16u);  // header[4]; the runtime array counts as 0
  EXPECT_EQ(in.runtime_array_stride, 32u);
  ASSERT_EQ(in.members.size(), 2u);
  EXPECT_EQ(in.members[0].name, "header");
  EXPECT_EQ(in.members[0].type.array, (std::vector<std::uint32_t>{4}));
  EXPECT_EQ(in.members[1].name, "items");
  EXPECT_EQ(in.members[1].offset, 16u);
  EXPECT_EQ(in.members[1].size, 0u);
  EXPECT_EQ(in.members[1].type.scalar, ScalarType::structure);
  EXPECT_EQ(in.members[1].type.array, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(in.members[1].type.describe(), "struct[]");
}

TEST_F(ReflectTest, ArrayOfBuffersHasItsArraySize) {
  const auto& tables = binding("tables");
  EXPECT_EQ(tables.array_size, 2u);
  EXPECT_EQ(tables.set, 1u);
  EXPECT_EQ(tables.binding, 3u);
  EXPECT_EQ(tables.runtime_array_stride, 4u);
  EXPECT_EQ(binding("In").array_size, 1u);
}

// --- push constants ----------------------------------------------------------------------

TEST_F(ReflectTest, PushConstantMembersHaveStd430Offsets) {
  ASSERT_TRUE(interface().push_constants.has_value());
  EXPECT_EQ(push_member("f").offset, 0u);
  EXPECT_EQ(push_member("i").offset, 4u);
  EXPECT_EQ(push_member("u").offset, 8u);
  EXPECT_EQ(push_member("v2").offset, 16u);
  EXPECT_EQ(push_member("v4").offset, 32u);
  EXPECT_EQ(push_member("arr").offset, 48u);
  EXPECT_EQ(push_member("arr").array_stride, 4u);
  EXPECT_EQ(interface().push_constants->size, 60u);
}

TEST_F(ReflectTest, PushConstantMembersHaveTheirTypes) {
  EXPECT_EQ(push_member("f").type.scalar, ScalarType::f32);
  EXPECT_EQ(push_member("i").type.scalar, ScalarType::i32);
  EXPECT_EQ(push_member("u").type.scalar, ScalarType::u32);
  EXPECT_EQ(push_member("v2").type.vector_size, 2u);
  EXPECT_EQ(push_member("v2").size, 8u);
  EXPECT_EQ(push_member("v4").type.vector_size, 4u);
  EXPECT_EQ(push_member("v4").size, 16u);
  EXPECT_EQ(push_member("arr").type.array, (std::vector<std::uint32_t>{3}));
  EXPECT_EQ(push_member("arr").size, 12u);
  EXPECT_EQ(push_member("arr").type.component_count(), 3u);
  EXPECT_EQ(push_member("f").type.describe(), "float");
  EXPECT_EQ(push_member("v4").type.describe(), "vec4<float>");
  EXPECT_EQ(push_member("arr").type.describe(), "uint[3]");
}

TEST_F(ReflectTest, PushConstantMembersAreInDeclarationOrder) {
  std::vector<std::string> names;
  for (const auto& m : interface().push_constants->members) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"f", "i", "u", "v2", "v4", "arr"}));
  EXPECT_EQ(interface().push_constants->find("nope"), nullptr);
}

// --- specialization constants and local size ---------------------------------------------

TEST_F(ReflectTest, SpecConstantsHaveIdsNamesTypesAndDefaults) {
  EXPECT_EQ(spec("USE_BIAS").id, 0u);
  EXPECT_EQ(spec("USE_BIAS").type, ScalarType::boolean);
  EXPECT_EQ(spec("USE_BIAS").default_bits, 1u);
  EXPECT_EQ(spec("USE_BIAS").default_string(), "true");

  EXPECT_EQ(spec("OFFSET").id, 1u);
  EXPECT_EQ(spec("OFFSET").type, ScalarType::i32);
  EXPECT_EQ(spec("OFFSET").default_bits & 0xffffffffu, 0xfffffffbu);
  EXPECT_EQ(spec("OFFSET").default_string(), "-5");

  EXPECT_EQ(spec("TILE").id, 2u);
  EXPECT_EQ(spec("TILE").type, ScalarType::u32);
  EXPECT_EQ(spec("TILE").default_bits, 16u);

  EXPECT_EQ(spec("SCALE").id, 5u);
  EXPECT_EQ(spec("SCALE").type, ScalarType::f32);
  EXPECT_EQ(spec("SCALE").default_bits, 0x3f000000u);
  EXPECT_EQ(spec("SCALE").default_string(), "0.5");
}

TEST_F(ReflectTest, SpecConstantsAreFoundByDecimalIdToo) {
  EXPECT_EQ(interface().find_spec("5"), interface().find_spec("SCALE"));
  EXPECT_EQ(interface().find_spec("6"), nullptr);
  EXPECT_EQ(interface().find_spec("NOPE"), nullptr);
}

TEST_F(ReflectTest, SpecConstantsAreSortedById) {
  std::vector<std::uint32_t> ids;
  for (const auto& s : interface().spec_constants) ids.push_back(s.id);
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5}));
}

TEST_F(ReflectTest, LocalSizeIdsAndDefaults) {
  const auto& local = interface().local_size;
  ASSERT_TRUE(local.spec_id[0].has_value());
  ASSERT_TRUE(local.spec_id[1].has_value());
  EXPECT_FALSE(local.spec_id[2].has_value());
  EXPECT_EQ(*local.spec_id[0], 3u);
  EXPECT_EQ(*local.spec_id[1], 4u);
  EXPECT_EQ(local.size[0], 16u);
  EXPECT_EQ(local.size[1], 2u);
  EXPECT_EQ(local.size[2], 1u);
}

TEST_F(ReflectTest, LocalSizeSpecConstantsAreNamedForTheirAxis) {
  EXPECT_EQ(spec("local_size_x").id, 3u);
  EXPECT_EQ(spec("local_size_y").id, 4u);
  EXPECT_EQ(spec("local_size_x").type, ScalarType::u32);
  EXPECT_EQ(spec("local_size_x").default_bits, 16u);
}

TEST_F(ReflectTest, EntryPointIsMain) { EXPECT_EQ(interface().entry_point, "main"); }

// --- renderings --------------------------------------------------------------------------

TEST_F(ReflectTest, JsonParsesBackWithEverything) {
  const auto json = nlohmann::json::parse(interface().to_json());
  EXPECT_EQ(json["entry_point"], "main");
  EXPECT_EQ(json["local_size"]["x"]["default"], 16);
  EXPECT_EQ(json["local_size"]["x"]["spec_id"], 3);
  EXPECT_TRUE(json["local_size"]["z"]["spec_id"].is_null());

  ASSERT_EQ(json["bindings"].size(), 5u);
  EXPECT_EQ(json["bindings"][0]["name"], "In");
  EXPECT_EQ(json["bindings"][0]["block"], "InBuf");
  EXPECT_EQ(json["bindings"][0]["access"], "read_only");
  EXPECT_EQ(json["bindings"][0]["runtime_array_stride"], 32);
  EXPECT_EQ(json["bindings"][1]["access"], "write_only");
  EXPECT_EQ(json["bindings"][3]["kind"], "uniform_buffer");
  EXPECT_EQ(json["bindings"][3]["block_size"], 84);

  const auto& members = json["push_constants"]["members"];
  ASSERT_EQ(members.size(), 6u);
  EXPECT_EQ(members[4]["name"], "v4");
  EXPECT_EQ(members[4]["offset"], 32);
  EXPECT_EQ(members[5]["type"], "uint[3]");
  EXPECT_EQ(json["push_constants"]["size"], 60);

  std::vector<std::string> spec_names;
  for (const auto& s : json["spec_constants"]) spec_names.push_back(s["name"]);
  EXPECT_EQ(spec_names, (std::vector<std::string>{"USE_BIAS", "OFFSET", "TILE", "local_size_x", "local_size_y",
                                                  "SCALE"}));
  EXPECT_EQ(json["spec_constants"][1]["default"], "-5");
}

TEST_F(ReflectTest, JsonWithNegativeIndentIsOneLine) {
  const std::string compact = interface().to_json(-1);
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_TRUE(nlohmann::json::accept(compact));
}

TEST_F(ReflectTest, TextSummaryNamesEverything) {
  const std::string text = interface().to_text();
  for (const char* name : {"InBuf", "'In'", "'Out'", "'State'", "'P'", "arr", "v4", "USE_BIAS", "OFFSET = -5",
                           "SCALE = 0.5", "spec id 3", "+ n x 32 bytes"})
    EXPECT_NE(text.find(name), std::string::npos) << name << " missing from:\n" << text;
}

TEST(ReflectMinimalTest, NoPushConstantsAndNoSpecConstants) {
  auto spirv = aat::ShaderCompiler().compile(kMinimalShader, "minimal.comp");
  ASSERT_TRUE(spirv.has_value()) << spirv.error().what();
  const auto interface = aat::reflect(*spirv);
  ASSERT_TRUE(interface.has_value()) << interface.error().what();
  EXPECT_FALSE(interface->push_constants.has_value());
  EXPECT_TRUE(interface->spec_constants.empty());
  EXPECT_EQ(interface->local_size.size[0], 64u);
  EXPECT_FALSE(interface->local_size.spec_id[0].has_value());
  ASSERT_EQ(interface->bindings.size(), 1u);
  EXPECT_EQ(interface->bindings[0].name, "Data");  // no instance name: the block name
  EXPECT_EQ(interface->bindings[0].runtime_array_stride, 4u);
  const auto json = nlohmann::json::parse(interface->to_json());
  EXPECT_TRUE(json["push_constants"].is_null());
  EXPECT_TRUE(json["spec_constants"].empty());
}

// --- malformed input ---------------------------------------------------------------------

TEST(ReflectMalformedTest, GarbageIsAParseError) {
  const std::vector<std::uint32_t> garbage = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto result = aat::reflect(garbage);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::parse) << result.error().what();
}

TEST(ReflectMalformedTest, EmptyIsAParseError) {
  const auto result = aat::reflect({});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::parse);
}

TEST(ReflectMalformedTest, TruncatedModuleIsAParseError) {
  auto spirv = aat::ShaderCompiler().compile(kMinimalShader, "minimal.comp");
  ASSERT_TRUE(spirv.has_value()) << spirv.error().what();
  spirv->resize(spirv->size() / 2);
  const auto result = aat::reflect(*spirv);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::parse) << result.error().what();
}

TEST(ReflectMalformedTest, ValidHeaderWithGarbageBodyIsAParseError) {
  std::vector<std::uint32_t> words = {0x07230203, 0x00010500, 0, 64, 0};
  for (std::uint32_t i = 0; i < 16; ++i) words.push_back(0xffff0000u | i);
  const auto result = aat::reflect(words);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::parse) << result.error().what();
  EXPECT_NE(result.error().what().find("not valid SPIR-V"), std::string::npos) << result.error().what();
}

}  // namespace
