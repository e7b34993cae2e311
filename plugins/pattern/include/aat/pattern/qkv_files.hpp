// Writes host Q, K, V (f32 values, C order) as PREFIXq.npy, PREFIXk.npy, PREFIXv.npy in f32 or
// f16 (rounded): the synthetic-input commands of the pattern and adaptive plugins.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aat/dtype.hpp"
#include "aat/error.hpp"

namespace aat::pattern {

// `written(n)` after each file (n = 1, 2, 3), e.g. to advance a progress bar.
Expected<void> write_qkv_npy(const std::string& prefix, DType dtype, const std::vector<std::int64_t>& shape,
                             const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                             const std::function<void(int)>& written = {});

}  // namespace aat::pattern
