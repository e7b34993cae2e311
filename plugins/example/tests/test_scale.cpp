#include "aat/example/scale.hpp"

#include "aat/op_run.hpp"
#include "aat/plugin.hpp"
#include "device_test.hpp"
#include "example/scale.bindings.hpp"

extern "C" const aat_plugin_descriptor* aat_plugin_example_entry(void);

namespace aat {
namespace {

using testing::FailsWith;
using testing::unwrap;

class ExampleScale : public testing::DeviceTest {};

TEST_F(ExampleScale, ComputesAlphaXPlusBetaForAnyShape) {
  auto scale = unwrap(example::Scale::create(context()));
  std::vector<float> values(3 * 7 * 5);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) - 40.0f;
  auto x = unwrap(Tensor::from_values<float>(context(), DType::f32, {3, 7, 5}, values));
  auto y = unwrap(scale.run(x, -2.5f, 0.25f));
  EXPECT_EQ(y.shape(), x.shape());
  const auto out = unwrap(y.download_values<float>());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_FLOAT_EQ(out[i], -2.5f * values[i] + 0.25f);
}

TEST_F(ExampleScale, RejectsNonF32Input) {
  auto scale = unwrap(example::Scale::create(context()));
  auto x = unwrap(Tensor::create(context(), DType::i32, {4}));
  auto y = scale.run(x, 1.0f, 0.0f);
  ASSERT_FALSE(y);
  EXPECT_EQ(y.error().code(), ErrorCode::type_mismatch);
}

TEST_F(ExampleScale, EmptyTensorGivesEmptyResult) {
  auto scale = unwrap(example::Scale::create(context()));
  auto x = unwrap(Tensor::create(context(), DType::f32, {0, 3}));
  auto y = unwrap(scale.run(x, 1.0f, 0.0f));
  EXPECT_EQ(y.element_count(), 0);
}

// The generated push-constant struct agrees with the reflection of the embedded SPIR-V.
TEST(ExampleBindgen, GeneratedLayoutMatchesReflection) {
  namespace gen = plugin_gen::example::scale;
  const auto words = gen::spirv();
  auto interface = unwrap(reflect(words));
  ASSERT_TRUE(interface.push_constants);
  EXPECT_EQ(sizeof(gen::PushConstants), interface.push_constants->size);
  EXPECT_EQ(offsetof(gen::PushConstants, alpha), interface.push_constants->find("alpha")->offset);
  EXPECT_EQ(offsetof(gen::PushConstants, beta), interface.push_constants->find("beta")->offset);
  EXPECT_EQ(offsetof(gen::PushConstants, n), interface.push_constants->find("n")->offset);
  EXPECT_EQ(gen::binding::x, "x");
  EXPECT_EQ(gen::spec::local_size_x, 0u);
}

// The generated Specialization starts at the shader's defaults and specializes a kernel by its
// typed members.
TEST_F(ExampleScale, GeneratedSpecializationIsTypedFromTheReflection) {
  namespace gen = plugin_gen::example::scale;
  const auto interface = unwrap(reflect(gen::spirv()));
  const SpecConstant* local_size = interface.find_spec("local_size_x");
  ASSERT_NE(local_size, nullptr);
  EXPECT_EQ(gen::Specialization{}.local_size_x, local_size->default_bits);
  const auto entries = gen::Specialization{.local_size_x = 96}.entries();
  ASSERT_EQ(entries.size(), interface.spec_constants.size());
  EXPECT_EQ(entries[0].first, "local_size_x");
  const auto kernel = unwrap(Kernel::create(context(), gen::spirv(), "example.scale", {.spec = entries}));
  EXPECT_EQ(kernel.local_size()[0], 96u);
}

TEST(ExamplePlugin, LinksStaticallyIntoAHost) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.add_static(aat_plugin_example_entry()).has_value());
  const Plugin* plugin = registry.find("example");
  ASSERT_NE(plugin, nullptr);
  EXPECT_TRUE(plugin->path.empty());
  ASSERT_NE(plugin->find_kernel("scale"), nullptr);
  EXPECT_EQ(plugin->find_kernel("scale")->interface.bindings.size(), 2u);
  EXPECT_NE(registry.find_op("example-scale"), nullptr);
}

// The op, bound by name as every host binds it: tensors and parameters by name, defaults filled in.
TEST_F(ExampleScale, RunsAsAnOpByName) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.add_static(aat_plugin_example_entry()).has_value());
  const PluginOp* op = registry.find_op("example-scale");
  ASSERT_NE(op, nullptr);
  const std::vector<float> values{1.0f, -2.0f, 3.5f, 0.0f};
  auto x = unwrap(Tensor::from_values<float>(context(), DType::f32, {2, 2}, values));
  auto result = unwrap(run_op(context(), *op, {.inputs = {{"x", x}}, .params = {{"alpha", OpValue(std::string("3"))}}}));
  ASSERT_EQ(result.outputs.size(), 1u);
  EXPECT_EQ(result.outputs[0].first, "out");
  EXPECT_EQ(result.outputs[0].second.shape(), x.shape());
  EXPECT_EQ(unwrap(result.outputs[0].second.download_values<float>()), (std::vector<float>{3.0f, -6.0f, 10.5f, 0.0f}));
  EXPECT_TRUE(FailsWith(run_op(context(), *op, {.inputs = {{"x", x}}, .params = {{"gamma", OpValue(1.0)}}}),
                        ErrorCode::not_found, {"'gamma'", "'alpha', 'beta'"}));
  EXPECT_TRUE(FailsWith(run_op(context(), *op, {}), ErrorCode::not_found, {"input 'x'", "missing"}));
  auto ints = unwrap(Tensor::create(context(), DType::i32, {4}));
  EXPECT_TRUE(FailsWith(run_op(context(), *op, {.inputs = {{"x", ints}}}), ErrorCode::type_mismatch, {"i32[4]", "f32"}));
}

}  // namespace
}  // namespace aat
