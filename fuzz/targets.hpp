// The fuzz targets (docs/reliability.md): each feeds arbitrary bytes to one intake of AAT and
// checks what it accepted. Shared by the libFuzzer binaries (fuzz/fuzz_entry.cpp, clang) and the
// regression test that replays every input a fuzzer ever crashed on (tests/test_fuzz_regressions.cpp).
//
// A target returns 0 for any input. A crash, a sanitizer report, or a broken property
// (AAT_FUZZ_REQUIRE: something accepted that does not survive its own round trip) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace aat::fuzz {

using Input = std::span<const std::uint8_t>;

int npy(Input input);                // parse_npy; accepted arrays round-trip through serialize_npy
int spirv(Input input);              // spirv_from_bytes + reflect (+ the interface's text and JSON)
int glsl(Input input);               // ShaderCompiler::compile (no cache) + reflect
int value(Input input);              // parse_value / parse_values / encode_value for every ScalarType
int plugin_descriptor(Input input);  // an aat_plugin_descriptor built from the bytes -> read_plugin_descriptor

struct Target {
  std::string_view name;
  int (*run)(Input);
};
// All of them, by the names their corpora and binaries use (fuzz_<name>).
std::span<const Target> targets();

}  // namespace aat::fuzz
