// libFuzzer entry point of one target; AAT_FUZZ_TARGET names it (fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return aat::fuzz::AAT_FUZZ_TARGET(aat::fuzz::Input(data, size));
}
