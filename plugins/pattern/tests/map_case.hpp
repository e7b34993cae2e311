// A pattern test case (shape, dtype, masks, options) and running it on the device: shared by the
// mass rule's tests (test_pattern.cpp) and the bound rule's (test_pattern_bound.cpp).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aat/pattern/pattern.hpp"
#include "case_shape.hpp"
#include "device_test.hpp"
#include "reference.hpp"

namespace aat::pattern::testing {

// What the inputs are: written as a designated initializer, e.g. {.Hq = 4, .Hkv = 2, .causal = true}.
struct MapShape {
  std::int64_t B = 1, Hq = 1, Hkv = 1, Nq = 128, Nk = 128, D = 32;
  DType dtype = DType::f32;
  bool causal = false;
  std::vector<std::int32_t> lengths{};  // key lengths [B]; empty: none
};

// A case: the shape and the rule's options (each suite starts from its rule's defaults).
struct MapCase : MapShape {
  MapCase(MapShape shape, PatternOptions rule) : MapShape(std::move(shape)), options(std::move(rule)) {}
  PatternOptions options;
  std::uint32_t seed = 1;
};

// Uploads q [B, Hq, Nq, D] and k [B, Hkv, Nk, D] (f16: rounded) and runs the pattern with the
// case's options, mask and key lengths.
inline PatternResult run_map(Pattern& pattern, const std::shared_ptr<Context>& context, const MapCase& c,
                             const std::vector<float>& q, const std::vector<float>& k, const std::string& name) {
  const Tensor qt = aat::testing::upload_floats(context, c.dtype, {c.B, c.Hq, c.Nq, c.D}, q);
  const Tensor kt = aat::testing::upload_floats(context, c.dtype, {c.B, c.Hkv, c.Nk, c.D}, k);
  Tensor lengths;
  PatternOptions options = c.options;
  options.causal = c.causal;
  if (!c.lengths.empty()) {
    lengths = aat::testing::unwrap(Tensor::from_values<std::int32_t>(context, DType::i32, {c.B}, c.lengths));
    options.key_lengths = &lengths;
  }
  return aat::testing::unwrap(pattern.run(qt, kt, options), name.c_str());
}

// The reference's problem for the case: shape, masks, tiles, forced tiles, halo, query groups and
// all_full; the rule's own fields are the caller's.
inline reference::Problem problem_of(const MapCase& c) {
  auto p = aat::testing::shaped_as<reference::Problem>(c);
  if (c.options.scale) p.scale = *c.options.scale;
  p.block_q = c.options.block_q;
  p.block_k = c.options.block_k;
  p.sink_tiles = c.options.sink_tiles;
  p.local_window = c.options.local_window.value_or(c.options.block_k);
  p.halo = c.options.halo;
  p.query_group = query_group(c.options);
  p.all_full = thresholds(c.options).all_full;
  return p;
}

// A device test with one Pattern per test suite.
class PatternTest : public aat::testing::SharedObjectTest<Pattern> {
 protected:
  Pattern& pattern() { return shared(); }
};

}  // namespace aat::pattern::testing
