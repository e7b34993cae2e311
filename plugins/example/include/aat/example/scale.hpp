// The example plugin's C++ API: y = alpha * x + beta over an f32 tensor of any shape.
#pragma once

#include <memory>

#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/tensor.hpp"

namespace aat::example {

// Prepared once per context; call run() as often as you like.
class Scale {
 public:
  static Expected<Scale> create(const std::shared_ptr<Context>& context);
  Expected<Tensor> run(const Tensor& x, float alpha, float beta) const;

 private:
  std::shared_ptr<Context> context_;
  Kernel kernel_;
};

}  // namespace aat::example
