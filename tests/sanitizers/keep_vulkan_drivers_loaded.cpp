// Sanitizer builds only: cmake/AatSanitizers.cmake builds this file into a small library that
// every target links when AAT_SANITIZE is set (docs/reliability.md). No normal build has it.
//
// The Vulkan loader dlcloses the driver (lavapipe: libvulkan_lvp.so) and the layers when the last
// instance is destroyed. LeakSanitizer runs at exit, after that: the driver's global variables
// are gone, so everything they held (LLVM's JIT state, lavapipe's shader caches, the layer's
// tables) is reported as leaked, with stacks ending in "<unknown module>" that no suppression can
// match. Keeping those two kinds of library loaded until exit keeps their globals visible, so
// what they still reference is not a leak; AAT's own allocations are checked as before.
#include <dlfcn.h>
#include <link.h>

#include <cstring>

extern "C" __attribute__((visibility("default"))) int dlclose(void* handle) {
  using Close = int (*)(void*);
  static const Close real = reinterpret_cast<Close>(dlsym(RTLD_NEXT, "dlclose"));
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name) {
    const char* slash = std::strrchr(map->l_name, '/');
    const char* name = slash ? slash + 1 : map->l_name;
    if (std::strncmp(name, "libvulkan_", 10) == 0 || std::strncmp(name, "libVkLayer_", 11) == 0) return 0;
  }
  return real ? real(handle) : -1;
}
