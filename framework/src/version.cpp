#include "aat/version.hpp"

namespace aat {
std::string_view version() { return AAT_VERSION_STRING; }
}  // namespace aat
