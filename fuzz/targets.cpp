#include "targets.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <variant>
#include <vector>

#include "aat/npy.hpp"
#include "aat/plugin.hpp"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"
#include "aat/value.hpp"

// A property of accepted input that does not hold: as much a finding as a crash.
#define AAT_FUZZ_REQUIRE(condition)                                                          \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace aat::fuzz {

namespace {

// Reads the fuzz input front to back; past the end every read yields zeros / empty.
class Bytes {
 public:
  explicit Bytes(Input input) : in_(input) {}
  std::uint8_t u8() { return pos_ < in_.size() ? in_[pos_++] : 0; }
  std::uint16_t u16() {
    const std::uint8_t low = u8();
    return static_cast<std::uint16_t>(low | (u8() << 8));
  }
  std::string text(std::size_t length) {
    length = std::min(length, remaining());
    std::string out(reinterpret_cast<const char*>(in_.data() + pos_), length);
    pos_ += length;
    return out;
  }
  std::vector<std::uint32_t> words(std::size_t count) {
    count = std::min(count, remaining() / 4);
    std::vector<std::uint32_t> out(count);
    if (count) std::memcpy(out.data(), in_.data() + pos_, count * 4);
    pos_ += count * 4;
    return out;
  }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  Input in_;
  std::size_t pos_ = 0;
};

std::span<const std::byte> as_bytes(Input input) { return std::as_bytes(input); }

void touch(const KernelInterface& interface) {
  // What `aat reflect` prints: every name and number must be printable.
  AAT_FUZZ_REQUIRE(!interface.to_text().empty());
  AAT_FUZZ_REQUIRE(!interface.to_json().empty());
  for (const auto& binding : interface.bindings) {
    AAT_FUZZ_REQUIRE(interface.find_binding(binding.name) != nullptr);
    for (const auto& member : binding.members) (void)member.type.describe();
  }
  for (const auto& spec : interface.spec_constants) (void)spec.default_string();
}

template <class T>
bool view_matches(const HostArray& array) {
  auto view = array.as<T>();
  return view && view->size() * sizeof(T) == array.data.size();
}

}  // namespace

int npy(Input input) {
  auto parsed = parse_npy(as_bytes(input), "fuzz input");
  if (!parsed) {
    AAT_FUZZ_REQUIRE(!parsed.error().what().empty());
    return 0;
  }
  // Accepted: the data is exactly what the header says, and it survives a write/read round trip.
  AAT_FUZZ_REQUIRE(parsed->element_count() >= 0);
  AAT_FUZZ_REQUIRE(static_cast<std::uint64_t>(parsed->element_count()) * size_of(parsed->dtype) ==
                   parsed->data.size());
  switch (parsed->dtype) {
    case DType::f32: AAT_FUZZ_REQUIRE(view_matches<float>(*parsed)); break;
    case DType::f16: AAT_FUZZ_REQUIRE(view_matches<std::uint16_t>(*parsed)); break;
    case DType::i32: AAT_FUZZ_REQUIRE(view_matches<std::int32_t>(*parsed)); break;
    case DType::u8: AAT_FUZZ_REQUIRE(view_matches<std::uint8_t>(*parsed)); break;
  }
  (void)shape_to_string(parsed->shape);
  const auto written = serialize_npy(parsed->dtype, parsed->shape, parsed->data);
  auto again = parse_npy(written, "round trip");
  AAT_FUZZ_REQUIRE(again.has_value());
  AAT_FUZZ_REQUIRE(again->dtype == parsed->dtype);
  AAT_FUZZ_REQUIRE(again->shape == parsed->shape);
  AAT_FUZZ_REQUIRE(again->data == parsed->data);
  return 0;
}

int spirv(Input input) {
  // Whole words only: a ragged tail is rejected up front and would hide everything behind it.
  auto words = spirv_from_bytes(as_bytes(input).first(input.size() & ~std::size_t{3}), "fuzz input");
  if (!words) return 0;
  auto interface = reflect(*words);
  if (interface) touch(*interface);
  return 0;
}

int glsl(Input input) {
  const std::string_view source(reinterpret_cast<const char*>(input.data()), input.size());
  ShaderCompiler compiler;  // no cache folder: nothing on disk
  auto spirv = compiler.compile(source, "fuzz.comp");
  if (!spirv) {
    AAT_FUZZ_REQUIRE(spirv.error().code() == ErrorCode::shader_compile);
    return 0;
  }
  auto interface = reflect(*spirv);
  if (interface) touch(*interface);
  return 0;
}

int value(Input input) {
  if (input.empty()) return 0;
  constexpr int kTypes = static_cast<int>(ScalarType::unknown) + 1;
  const auto type = static_cast<ScalarType>(input[0] % kTypes);
  const std::string_view text(reinterpret_cast<const char*>(input.data() + 1), input.size() - 1);
  // Whatever parses as a type must encode as that type: the CLI parses --push/--spec text and
  // Bindings/Kernel encode it later.
  if (auto one = parse_value(text, type)) {
    AAT_FUZZ_REQUIRE(encode_value(*one, type).has_value());
    (void)to_string(*one);
  }
  if (auto many = parse_values(text, type)) {
    AAT_FUZZ_REQUIRE(!many->empty());
    for (const auto& v : *many) AAT_FUZZ_REQUIRE(encode_value(v, type).has_value());
  }
  // encode_value on any bit pattern, as an integer and as a double: an error or bits, never UB.
  if (input.size() >= 9) {
    std::int64_t i = 0;
    double d = 0;
    std::memcpy(&i, input.data() + 1, 8);
    std::memcpy(&d, input.data() + 1, 8);
    (void)encode_value(Value(i), type);
    (void)encode_value(Value(d), type);
    (void)encode_value(Value(i % 2 == 0), type);
    (void)to_string(Value(d));
  }
  return 0;
}

namespace {
int fake_command(const aat_host*, int, const char* const*) { return 0; }
int fake_plan(const aat_plugin_op*, aat_op_context*, aat_op_tensor_desc*, const aat_op_value*, void**, std::uint32_t*,
              aat_op_error*) {
  return 1;
}
int fake_record(const aat_plugin_op*, void*, aat_op_stream*, aat_op_tensor* const*, aat_op_error*) { return 1; }
int fake_execute(const aat_plugin_op*, void*, aat_op_context*, aat_op_tensor* const*, double*, aat_op_error*) {
  return 1;
}
void fake_destroy(const aat_plugin_op*, void*) {}
}  // namespace

int plugin_descriptor(Input input) {
  // Layout of the input (every read past its end gives zeros): a flags byte, name, version,
  // description, kernels (flags, name, source, SPIR-V words), commands (flags, name, summary),
  // ops (flags, name, summary, tensors (flags, name, summary, role, flags, dtypes, rank),
  // parameters (flags, name, summary, type, flags, default, min, max)).
  // Every pointer points into storage built here: what the descriptor claims is exactly what
  // is there, except the one claim the validator must refuse before reading (a count over its limit).
  Bytes bytes(input);
  std::deque<std::string> strings;
  std::deque<std::vector<std::uint32_t>> spirv;
  auto text = [&](std::size_t length) -> const char* { return strings.emplace_back(bytes.text(length)).c_str(); };

  const std::uint8_t flags = bytes.u8();
  aat_plugin_descriptor d{};
  d.abi_version = (flags & 1) ? bytes.u8() : AAT_PLUGIN_ABI_VERSION;
  d.descriptor_size = (flags & 2) ? bytes.u8() : static_cast<std::uint32_t>(sizeof(aat_plugin_descriptor));
  d.name = text(bytes.u8());
  d.version = text(bytes.u8());
  d.description = text(bytes.u16());
  if (flags & 4) d.name = nullptr;
  if (flags & 8) d.version = nullptr;
  if (flags & 16) d.description = nullptr;

  std::vector<aat_plugin_kernel> kernels(bytes.u8() % 5);
  for (auto& k : kernels) {
    const std::uint8_t kflags = bytes.u8();
    k.name = (kflags & 1) ? nullptr : text(bytes.u8());
    k.source = (kflags & 2) ? nullptr : text(bytes.u8());
    const auto& words = spirv.emplace_back(bytes.words(bytes.u16()));
    k.spirv = (kflags & 4) ? nullptr : words.data();
    k.spirv_words = (kflags & 8) ? 0 : words.size();
  }
  std::vector<aat_plugin_command> commands(bytes.u8() % 5);
  for (auto& c : commands) {
    const std::uint8_t cflags = bytes.u8();
    c.name = (cflags & 1) ? nullptr : text(bytes.u8());
    c.summary = (cflags & 2) ? nullptr : text(bytes.u8());
    c.run = (cflags & 4) ? nullptr : &fake_command;
  }
  std::vector<aat_plugin_op> ops(bytes.u8() % 3);
  std::deque<std::vector<aat_op_tensor_info>> tensor_tables;
  std::deque<std::vector<aat_op_param_info>> param_tables;
  for (auto& op : ops) {
    const std::uint8_t oflags = bytes.u8();
    op.name = (oflags & 1) ? nullptr : text(bytes.u8());
    op.summary = (oflags & 2) ? nullptr : text(bytes.u8());
    auto& tensors = tensor_tables.emplace_back(bytes.u8() % 5);
    for (auto& t : tensors) {
      t.name = (bytes.u8() & 1) ? nullptr : text(bytes.u8());
      t.summary = text(bytes.u8());
      t.role = bytes.u8() % 3;
      t.flags = bytes.u8() % 3;
      t.dtypes = bytes.u8() % 32;
      t.rank = static_cast<std::int8_t>(bytes.u8()) % 10;
    }
    auto& params = param_tables.emplace_back(bytes.u8() % 5);
    for (auto& p : params) {
      const std::uint8_t pflags = bytes.u8();
      p.name = (pflags & 1) ? nullptr : text(bytes.u8());
      p.summary = text(bytes.u8());
      p.type = bytes.u8() % 5;
      p.flags = bytes.u8() % 9;
      p.default_value = (pflags & 2) ? nullptr : text(bytes.u8());
      p.min = static_cast<std::int8_t>(bytes.u8());
      p.max = static_cast<std::int8_t>(bytes.u8());
    }
    op.tensors = (oflags & 4) ? nullptr : tensors.data();
    op.tensor_count = tensors.size();
    op.params = (oflags & 8) ? nullptr : params.data();
    op.param_count = params.size();
    op.plan = (oflags & 16) ? nullptr : &fake_plan;
    op.record = (oflags & 32) ? nullptr : &fake_record;
    op.execute = (oflags & 64) ? &fake_execute : nullptr;
    op.destroy = (oflags & 128) ? nullptr : &fake_destroy;
  }
  d.ops = ops.data();
  d.op_count = ops.size();
  d.kernels = (flags & 32) ? nullptr : kernels.data();
  d.kernel_count = kernels.size();
  d.commands = (flags & 64) ? nullptr : commands.data();
  d.command_count = commands.size();
  if (flags & 128) d.kernel_count = 1025;  // over the documented limit: refused unread

  auto plugin = read_plugin_descriptor(&d);
  if (!plugin) return 0;
  AAT_FUZZ_REQUIRE(d.kernel_count <= kernels.size());
  AAT_FUZZ_REQUIRE(plugin->kernels.size() == d.kernel_count);
  AAT_FUZZ_REQUIRE(plugin->commands.size() == d.command_count);
  for (const auto& k : plugin->kernels) {
    AAT_FUZZ_REQUIRE(plugin->find_kernel(k.name) == &k);
    touch(k.interface);
  }
  AAT_FUZZ_REQUIRE(plugin->ops.size() == d.op_count);
  for (const auto& op : plugin->ops) {
    AAT_FUZZ_REQUIRE(!op.signature.to_json().empty());
    for (const auto& t : op.signature.tensors) AAT_FUZZ_REQUIRE(!t.dtypes.empty() && !t.describe().empty());
    for (const auto& p : op.signature.params)  // an accepted default is a value of the parameter's type
      if (p.default_value) AAT_FUZZ_REQUIRE(typed_op_value(p, OpValue(*p.default_value), "default").has_value());
  }
  return 0;
}

std::span<const Target> targets() {
  static const Target all[] = {{"npy", &npy},
                               {"spirv", &spirv},
                               {"glsl", &glsl},
                               {"value", &value},
                               {"plugin_descriptor", &plugin_descriptor}};
  return all;
}

}  // namespace aat::fuzz
