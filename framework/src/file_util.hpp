// Small file helpers shared by the caches: whole-file reads and crash-safe writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "aat/error.hpp"

namespace aat::detail {

// Whole file, or nullopt when it cannot be opened.
std::optional<std::vector<std::byte>> read_file_bytes(const std::filesystem::path& path);

// Writes to a unique temporary file beside `path`, then renames it over `path`, so a reader
// never sees a half-written file and concurrent writers each leave a whole one.
Expected<void> write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> bytes);

// 64-bit FNV-1a: stable across runs and builds, used for cache keys and checksums.
std::uint64_t fnv1a(std::span<const std::byte> bytes, std::uint64_t seed = 0xcbf29ce484222325ull);
std::uint64_t fnv1a(std::string_view text, std::uint64_t seed = 0xcbf29ce484222325ull);

}  // namespace aat::detail
