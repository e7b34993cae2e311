// The op `attention` (aat/op.hpp): exact attention bound by name by every host.
#pragma once

#include "aat/op.hpp"

namespace aat::attention {

const OpDefinition& attention_op();

}  // namespace aat::attention
