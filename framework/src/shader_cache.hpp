// The on-disk SPIR-V cache. An entry is never trusted: its magic, key material, checksum,
// dependency hashes and SPIR-V are all checked, and a bad entry is deleted and rebuilt.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aat/shader.hpp"

namespace aat::detail {

struct ShaderDependency {
  std::string path;
  std::uint64_t content_hash;
};

struct CacheLookup {
  enum Status { absent, hit, rejected } status = absent;
  Spirv spirv;
};

CacheLookup lookup_cached_spirv(const std::filesystem::path& folder, std::uint64_t key, const std::string& material);
// Best effort: a cache that cannot be written only costs a recompile next time.
void store_cached_spirv(const std::filesystem::path& folder, std::uint64_t key, const std::string& material,
                        const std::vector<ShaderDependency>& dependencies, const Spirv& spirv);
std::filesystem::path cache_entry_path(const std::filesystem::path& folder, std::uint64_t key);

}  // namespace aat::detail
