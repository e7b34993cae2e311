# Every third-party dependency comes from Debian 12 packages (scripts/install-deps.sh).
find_package(Vulkan REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(spirv_cross_core CONFIG REQUIRED)
find_package(spirv_cross_glsl CONFIG REQUIRED)
find_package(SPIRV-Tools CONFIG REQUIRED)
find_package(Threads REQUIRED)
if(AAT_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(AAT_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()

# Debian 12's libshaderc.so crashes inside GlslangToSpv when glslang's static libraries are
# also linked; the combined static archive plus glslang's own archives, in one group, works.
find_library(AAT_SHADERC_COMBINED shaderc_combined REQUIRED)
if(NOT TARGET aat_shaderc)
  add_library(aat_shaderc INTERFACE)
  target_link_libraries(aat_shaderc INTERFACE
    "-Wl,--start-group" ${AAT_SHADERC_COMBINED} glslang MachineIndependent OSDependent
    GenericCodeGen OGLCompiler SPIRV SPIRV-Tools-opt SPIRV-Tools
    glslang-default-resource-limits "-Wl,--end-group" Threads::Threads)
endif()

# The shader compilers (glslc, glslang >= 15.1) and what each can build: AatShaderCompiler.cmake.
