// The inputs of an attention-shaped `aat run` command (attention, adaptive, pattern) read from
// .npy files onto a device: Q, K, V when named, and the key lengths when given.
#pragma once

#include <memory>
#include <string>

#include "aat/attention/attention.hpp"
#include "aat/context.hpp"
#include "aat/progress.hpp"
#include "aat/tensor.hpp"

namespace aat::attention {

struct InputFiles {
  std::string q, k, v;      // v empty: none (the pattern reads Q and K only)
  std::string key_lengths;  // empty: none
};

struct InputTensors {
  Tensor q, k, v;
  Tensor key_lengths;  // empty where no file was named
  // The mask of `causal` and `scale` with these key lengths (pointing into this object).
  AttentionMask mask(bool causal, std::optional<float> scale) const {
    return {causal, scale, key_lengths ? &key_lengths : nullptr};
  }
};

// Reads each file named (errors name the file), showing "reading q, k, v" on `progress`.
Expected<InputTensors> read_input_files(const std::shared_ptr<Context>& context, const InputFiles& files,
                                        Progress& progress);

}  // namespace aat::attention
