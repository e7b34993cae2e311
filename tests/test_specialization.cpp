// aat::specialization_entries: typed specialization that still builds where the build skipped a
// kernel (its generated header then declares Specialization without defining it).
#include <gtest/gtest.h>

#include <cstdint>
#include <variant>

#include "aat/kernel.hpp"

namespace aat {
namespace {

namespace compiled_kernel {
// What aat-bindgen writes for a compiled kernel, reduced to one constant.
struct Specialization {
  std::uint32_t TILE = 16u;
  SpecValues entries() const { return {{"TILE", Value(std::int64_t{TILE})}}; }
};
}  // namespace compiled_kernel

namespace skipped_kernel {
struct Specialization;  // what the header of a skipped kernel declares
}  // namespace skipped_kernel

static_assert(GeneratedSpecialization<compiled_kernel::Specialization>);
static_assert(!GeneratedSpecialization<skipped_kernel::Specialization>);

TEST(SpecializationEntries, SetsTheMembersOfACompiledKernel) {
  const SpecValues entries =
      specialization_entries<compiled_kernel::Specialization>([](auto& s) { s.TILE = 64; });
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].first, "TILE");
  EXPECT_EQ(std::get<std::int64_t>(entries[0].second), 64);
}

TEST(SpecializationEntries, IsEmptyForASkippedKernel) {
  // The lambda names a member no type here has: it must never be instantiated.
  const SpecValues entries =
      specialization_entries<skipped_kernel::Specialization>([](auto& s) { s.NO_SUCH_MEMBER = 1; });
  EXPECT_TRUE(entries.empty());
}

}  // namespace
}  // namespace aat
