#include "aat/pattern/qkv_files.hpp"

#include <span>

#include "aat/npy.hpp"

namespace aat::pattern {

Expected<void> write_qkv_npy(const std::string& prefix, DType dtype, const std::vector<std::int64_t>& shape,
                             const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                             const std::function<void(int)>& written) {
  int n = 0;
  for (auto [name, values] : {std::pair{"q", &q}, {"k", &k}, {"v", &v}}) {
    const std::string path = prefix + name + ".npy";
    if (dtype == DType::f16) {
      const auto half = to_half(*values);
      AAT_CHECK(write_npy(path, DType::f16, shape, std::as_bytes(std::span(half))));
    } else {
      AAT_CHECK(write_npy(path, DType::f32, shape, std::as_bytes(std::span(*values))));
    }
    if (written) written(++n);
  }
  return {};
}

}  // namespace aat::pattern
