// The umbrella header: the whole public API of the AAT framework.
//   Context  — the device;           Tensor/Buffer — memory;
//   Kernel   — a reflected pipeline; Bindings      — what one dispatch uses;
//   Stream   — record, submit, wait, time.
#pragma once

#include "aat/bindings.hpp"
#include "aat/build_info.hpp"
#include "aat/context.hpp"
#include "aat/device_group.hpp"
#include "aat/dtype.hpp"
#include "aat/error.hpp"
#include "aat/kernel.hpp"
#include "aat/kernel_family.hpp"
#include "aat/memory.hpp"
#include "aat/host_array.hpp"
#include "aat/invocation.hpp"
#include "aat/npy.hpp"
#include "aat/progress.hpp"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"
#include "aat/shader_run.hpp"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"
#include "aat/tensor_npy.hpp"
#include "aat/value.hpp"
#include "aat/version.hpp"
