// .npy files as tensors: the I/O adapter between aat/npy.hpp (the file format) and Tensor.
#pragma once

#include <filesystem>
#include <memory>

#include "aat/context.hpp"
#include "aat/npy.hpp"
#include "aat/tensor.hpp"

namespace aat {

// A .npy file as a new device tensor: the header is checked (and the tensor created, so a size
// the device cannot hold is refused) before any data is read; the data is mapped (MappedNpy) and
// copied straight into the device buffer. A pipe is read whole. Errors name the file.
Expected<Tensor> read_npy_tensor(const std::shared_ptr<Context>& context, const std::filesystem::path& path);

// The tensor's contents read back and written as a .npy file.
Expected<void> write_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace aat
