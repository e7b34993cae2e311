// run_shader: runs any compute shader with no C++ written for it — host arrays uploaded and
// bound by the shader's binding names, push and specialization constants by their reflected
// names, a grid of invocations, arrays read back. What `aat run FILE.comp` and Python's
// aat.run(shader, ...) do: an adapter from host arrays onto the one invocation path
// (aat/invocation.hpp), which checks the request.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aat/context.hpp"
#include "aat/dtype.hpp"
#include "aat/error.hpp"
#include "aat/host_array.hpp"
#include "aat/invocation.hpp"
#include "aat/shader.hpp"

namespace aat {

// A binding to read back after the dispatch. When it is also an input, the input's data is
// what the shader sees and the input's dtype/shape are those of the result (dtype/shape may be
// left unset, or must equal the input's). Otherwise a zero-filled array of `dtype` and `shape`
// is allocated for it, and both are required.
struct ShaderOutput {
  std::string binding;
  std::optional<DType> dtype;
  std::optional<std::vector<std::int64_t>> shape;
};

struct ShaderRunRequest {
  Spirv spirv;
  std::string kernel_name = "shader";  // used in messages and timings
  // Arrays uploaded into new device buffers, bound by binding name (instance or block name),
  // read where they lie (HostArrayView: a HostArray given here is owned by the view; borrowed
  // memory must outlive run_shader).
  std::vector<std::pair<std::string, HostArrayView>> inputs;
  std::vector<ShaderOutput> outputs;
  // Push-constant members by name: one value for a scalar, one per component for vectors/arrays.
  std::vector<NamedValue> push;
  // Specialization constants by name or decimal id (local_size_x_id ones change the local size).
  std::vector<NamedValue> spec;
  // Invocations per axis; the dispatch covers them with ceil(grid / local size) workgroups.
  std::array<std::uint64_t, 3> grid{1, 1, 1};
};

struct ShaderRunResult {
  // In the order of ShaderRunRequest::outputs, named as there.
  std::vector<std::pair<std::string, HostArray>> outputs;
  double gpu_ms = 0;  // 0 when the device has no timestamps on its compute queue
  std::array<std::uint32_t, 3> workgroups{1, 1, 1};
  std::array<std::uint32_t, 3> local_size{1, 1, 1};
};

// Creates the kernel, then checks everything before an array is uploaded, with errors naming the
// binding at fault:
//  - not_found: a name that is no binding of the shader (the known ones are listed), a binding
//    neither an input nor an output, a push member or spec constant the shader does not have, a
//    push member not given;
//  - invalid_argument: a binding given twice, an output that is not an input and lacks a
//    dtype or shape, an output whose dtype/shape contradict its input's, an input whose bytes
//    are not those of its dtype and shape;
//  - size_mismatch: an array smaller than the block's fixed part, or, for a block ending in a
//    runtime array, whose bytes past the fixed part are not a multiple of the array stride;
//  - type_mismatch: an array whose dtype does not fit the element type of the block's array
//    member (f32 into float/vecN, f16 into float16_t/f16vecN, i32 into int/uint, u8 into
//    int8_t/uint8_t); checked when that member is a plain scalar or vector array.
// Then uploads, dispatches, waits and reads the outputs back.
Expected<ShaderRunResult> run_shader(const std::shared_ptr<Context>& context, const ShaderRunRequest& request);

}  // namespace aat
