// The signature parts every attention-shaped op shares (the ops `attention` and `adaptive`):
// Q, K, V, optional key lengths (and bias), O and the optional row log-sum-exp; causal and scale.
#pragma once

#include <vector>

#include "aat/op.hpp"

namespace aat::attention {

// q, k, v, key_lengths, [bias,] out, lse: dtypes and ranks as aat::attention::check_shapes takes.
std::vector<OpTensorRule> attention_tensor_rules(bool with_bias);
// causal (bottom-right aligned) and scale (default 1/sqrt(D)).
std::vector<OpParamRule> attention_mask_params();

}  // namespace aat::attention
