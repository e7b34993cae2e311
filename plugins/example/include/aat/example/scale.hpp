// The example plugin's C++ API: y = alpha * x + beta over an f32 tensor of any shape.
#pragma once

#include <memory>

#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"

namespace aat::example {

// Prepared once per context; call run() as often as you like, from any thread.
class Scale {
 public:
  static Expected<Scale> create(const std::shared_ptr<Context>& context);
  // A new tensor y = alpha * x + beta.
  Expected<Tensor> run(const Tensor& x, float alpha, float beta) const;
  // Records y = alpha * x + beta into `stream` (y: f32 with x's element count); nothing is submitted.
  Expected<void> record(Stream& stream, const Tensor& x, const Tensor& y, float alpha, float beta) const;

 private:
  std::shared_ptr<Context> context_;
  Kernel kernel_;
};

}  // namespace aat::example
