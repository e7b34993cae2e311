// The op `adaptive` (aat/op.hpp): adaptive attention bound by name by every host.
#pragma once

#include "aat/op.hpp"

namespace aat::adaptive {

const OpDefinition& adaptive_op();

}  // namespace aat::adaptive
