// Q, K, V of an input family (aat/adaptive/families.hpp) on the device, [1, H, N, D].
#pragma once

#include "aat/adaptive/families.hpp"
#include "device_test.hpp"

namespace aat::adaptive::test_support {

struct FamilyTensors {
  Tensor q, k, v;
};

inline FamilyTensors upload_family(const std::shared_ptr<Context>& context, families::Family family, std::int64_t heads,
                                   std::int64_t length, std::int64_t head_dim, std::uint32_t seed, DType dtype) {
  const auto in = families::generate(family, heads, length, head_dim, seed);
  const std::vector<std::int64_t> shape{1, heads, length, head_dim};
  return {aat::testing::upload_floats(context, dtype, shape, in.q), aat::testing::upload_floats(context, dtype, shape, in.k),
          aat::testing::upload_floats(context, dtype, shape, in.v)};
}

}  // namespace aat::adaptive::test_support
