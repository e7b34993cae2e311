#include "shader_cache.hpp"

#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "file_util.hpp"

namespace aat::detail {

namespace {

// Entry layout: magic | u64 material length | material | u32 dependency count |
// (u32 path length | path | u64 hash)* | u32 word count | words | u64 FNV-1a of all before.
constexpr char kMagic[8] = {'A', 'A', 'T', 'S', 'P', 'V', '0', '1'};

class Writer {
 public:
  void bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::byte*>(data);
    out_.insert(out_.end(), p, p + size);
  }
  template <class T>
  void value(T v) { bytes(&v, sizeof(v)); }
  void text(const std::string& s, bool wide_length) {
    if (wide_length) value<std::uint64_t>(s.size()); else value<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  std::vector<std::byte>& data() { return out_; }

 private:
  std::vector<std::byte> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  bool bytes(void* data, std::size_t size) {
    if (size > in_.size() - pos_) return false;
    std::memcpy(data, in_.data() + pos_, size);
    pos_ += size;
    return true;
  }
  template <class T>
  bool value(T& v) { return bytes(&v, sizeof(v)); }
  bool text(std::string& s, bool wide_length) {
    std::uint64_t size = 0;
    if (wide_length) { if (!value(size)) return false; }
    else { std::uint32_t narrow = 0; if (!value(narrow)) return false; size = narrow; }
    if (size > in_.size() - pos_) return false;
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), size);
    pos_ += size;
    return true;
  }
  std::size_t position() const { return pos_; }

 private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

bool dependency_unchanged(const ShaderDependency& dependency) {
  std::ifstream in(dependency.path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  return fnv1a(text.str()) == dependency.content_hash;
}

bool parse_entry(std::span<const std::byte> data, const std::string& material, Spirv& spirv) {
  if (data.size() < sizeof(kMagic) + 8) return false;
  std::uint64_t stored_checksum = 0;
  std::memcpy(&stored_checksum, data.data() + data.size() - 8, 8);
  if (fnv1a(data.first(data.size() - 8)) != stored_checksum) return false;

  Reader reader(data.first(data.size() - 8));
  char magic[8];
  std::string stored_material;
  std::uint32_t dependency_count = 0, word_count = 0;
  if (!reader.bytes(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) return false;
  if (!reader.text(stored_material, true) || stored_material != material) return false;
  if (!reader.value(dependency_count)) return false;
  for (std::uint32_t i = 0; i < dependency_count; ++i) {
    ShaderDependency dependency;
    if (!reader.text(dependency.path, false) || !reader.value(dependency.content_hash)) return false;
    if (!dependency_unchanged(dependency)) return false;
  }
  if (!reader.value(word_count) || word_count < 5) return false;
  spirv.resize(word_count);
  if (!reader.bytes(spirv.data(), word_count * sizeof(std::uint32_t))) return false;
  return reader.position() == data.size() - 8 && check_spirv(spirv, "cached SPIR-V").has_value();
}

}  // namespace

std::filesystem::path cache_entry_path(const std::filesystem::path& folder, std::uint64_t key) {
  return folder / fmt::format("{:016x}.aatspv", key);
}

CacheLookup lookup_cached_spirv(const std::filesystem::path& folder, std::uint64_t key, const std::string& material) {
  const auto path = cache_entry_path(folder, key);
  auto data = read_file_bytes(path);
  if (!data) return {};
  CacheLookup lookup;
  if (parse_entry(*data, material, lookup.spirv)) {
    lookup.status = CacheLookup::hit;
    return lookup;
  }
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  return {CacheLookup::rejected, {}};
}

void store_cached_spirv(const std::filesystem::path& folder, std::uint64_t key, const std::string& material,
                        const std::vector<ShaderDependency>& dependencies, const Spirv& spirv) {
  Writer writer;
  writer.bytes(kMagic, sizeof(kMagic));
  writer.text(material, true);
  writer.value<std::uint32_t>(static_cast<std::uint32_t>(dependencies.size()));
  for (const auto& dependency : dependencies) {
    writer.text(dependency.path, false);
    writer.value(dependency.content_hash);
  }
  writer.value<std::uint32_t>(static_cast<std::uint32_t>(spirv.size()));
  writer.bytes(spirv.data(), spirv.size() * sizeof(std::uint32_t));
  writer.value(fnv1a(writer.data()));
  (void)write_file_atomic(cache_entry_path(folder, key), writer.data());
}

}  // namespace aat::detail
