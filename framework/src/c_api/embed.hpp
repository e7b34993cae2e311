// Shared by the C API (libaat_c) and the Python module: running a kernel on tensors bound by
// name, values given as text or typed (plugins' ops go through aat/op_run.hpp). Private: not
// installed.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aat/aat.hpp"

namespace aat::embed {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// A value for a push-constant member or a specialization constant: typed, or text parsed as
// the shader's declared type (vectors and arrays as "1,2,3").
struct NamedValue {
  std::string name;
  std::vector<Value> values;        // typed: one for a scalar, one per component otherwise
  std::optional<std::string> text;  // when set, parsed instead of `values`
};

// Reads a .spv file, or compiles GLSL (any other extension) through the context's SPIR-V cache.
Expected<Spirv> load_shader(const std::shared_ptr<Context>& context, const std::filesystem::path& path);

// Kernel::create with specialization constants given as NamedValue (text parsed with the
// reflected constant type). One value per constant.
Expected<Kernel> create_kernel(const std::shared_ptr<Context>& context, Spirv spirv, std::string name,
                               const std::vector<NamedValue>& spec);

// Binds every tensor by name (unknown names list the known ones; a binding given twice is an
// error; a tensor whose dtype does not fit the block's array element type is a type_mismatch;
// a tensor smaller than the block, or whose tail is not a whole number of runtime-array
// elements, a size_mismatch), sets every push member, dispatches ceil(grid / local size)
// workgroups and waits. Returns the dispatch's GPU time in ms (0 without timestamps).
// `context`: the one the kernel and tensors were made on. `zero_fill`: tensors cleared on the
// device (in the same submission) before the dispatch.
Expected<double> run_kernel(const std::shared_ptr<Context>& context, const Kernel& kernel,
                            const std::vector<NamedTensor>& bindings, const std::vector<NamedValue>& push,
                            std::array<std::uint64_t, 3> grid, const std::vector<Tensor>& zero_fill = {});

}  // namespace aat::embed
