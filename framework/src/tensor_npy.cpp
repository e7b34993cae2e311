#include "aat/tensor_npy.hpp"

#include <fmt/format.h>

namespace aat {

Expected<Tensor> read_npy_tensor(const std::shared_ptr<Context>& context, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {  // a pipe: read it whole
    AAT_TRY(auto array, read_npy(path));
    return with_context(Tensor::from_host(context, array), fmt::format("loading '{}'", path.string()));
  }
  // The header decides first (a tensor the device cannot hold is refused before any data is
  // read); then the mapped data goes straight into the device buffer.
  AAT_TRY(const MappedNpy file, MappedNpy::open(path));
  const std::string what = fmt::format("loading '{}' ({}[{}])", path.string(), to_string(file.header().dtype),
                                       shape_to_string(file.header().shape));
  AAT_TRY(auto tensor, with_context(Tensor::create(context, file.header().dtype, file.header().shape), what));
  AAT_CHECK(with_context(tensor.upload(file.data()), what));
  return tensor;
}

Expected<void> write_npy(const std::filesystem::path& path, const Tensor& tensor) {
  AAT_TRY(auto array, tensor.to_host());
  return write_npy(path, array);
}

}  // namespace aat
