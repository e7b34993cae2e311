# Install layout, CMake package config and pkg-config files (docs/embedding.md).
#
#   bin/aat                            the CLI
#   lib/libaat.so*, lib/libaat_c.so*   the framework, the C API
#   lib/libaat_plugin_<api>.a          plugins whose C++ API is installed (AAT_INSTALL_PLUGIN_APIS)
#   lib/aat/plugins/libaat-*.so        every plugin (found by an installed libaat.so, no AAT_PLUGIN_PATH)
#   include/aat/...                    public headers (<aat/aat.hpp>, <aat/aat.h>, <aat/attention/...>)
#   share/aat/shaders/                 the shared GLSL headers (found by an installed libaat.so)
#   lib/cmake/aat/                     aatConfig.cmake, aatConfigVersion.cmake, aatTargets*.cmake
#   lib/pkgconfig/aat.pc, aat-c.pc
#   lib/python3/dist-packages/aat/     the Python module (when built; AAT_PYTHON_INSTALL_DIR)
# The version is the one of project() in the top CMakeLists.txt.
include(CMakePackageConfigHelpers)

set(AAT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/aat CACHE STRING "Where aatConfig.cmake is installed")
set(AAT_INSTALL_PLUGIN_APIS attention CACHE STRING
    "Plugins whose static library and public headers are installed and exported as aat::<name>")

# Shared GLSL headers, and where an installed libaat.so finds them (framework/src/shader.cpp).
install(DIRECTORY ${AAT_SHADER_INCLUDE_DIR}/ DESTINATION ${CMAKE_INSTALL_DATADIR}/aat/shaders)
file(RELATIVE_PATH AAT_LIB_TO_SHADERS ${CMAKE_INSTALL_FULL_LIBDIR} ${CMAKE_INSTALL_FULL_DATADIR}/aat/shaders)
target_compile_definitions(aat PRIVATE AAT_INSTALL_SHADER_DIR_FROM_LIB="${AAT_LIB_TO_SHADERS}")

# A consumer compiles the public headers as C++23 (std::expected).
target_compile_features(aat INTERFACE cxx_std_23)

# Plugin C++ APIs: the static library a host links (aat::<name>) and the plugin's include/.
# Generated headers (bindgen) stay in the build tree: public plugin headers must not need them.
# Header-only dependencies the plugin's sources used (CLI11, nlohmann_json) are not needed to
# link it, so they are dropped from the exported interface; fmt (a shared library) stays.
foreach(api IN LISTS AAT_INSTALL_PLUGIN_APIS)
  if(NOT TARGET aat_plugin_${api})
    message(WARNING "AAT_INSTALL_PLUGIN_APIS names '${api}', which is no plugin of this build")
    continue()
  endif()
  get_target_property(api_source_dir aat_plugin_${api} SOURCE_DIR)
  get_target_property(api_links aat_plugin_${api} INTERFACE_LINK_LIBRARIES)
  set(api_exported_links)
  foreach(link IN LISTS api_links)
    if(link MATCHES "^\\$<LINK_ONLY:(.+)>$")
      set(dep ${CMAKE_MATCH_1})  # (read after the match: an if() expands its arguments first)
      if(TARGET ${dep})
        get_target_property(dep_type ${dep} TYPE)
        if(dep_type STREQUAL "INTERFACE_LIBRARY")
          set(link "$<BUILD_INTERFACE:${link}>")
        endif()
      endif()
    endif()
    list(APPEND api_exported_links "${link}")
  endforeach()
  set_target_properties(aat_plugin_${api} PROPERTIES INTERFACE_LINK_LIBRARIES "${api_exported_links}" EXPORT_NAME ${api})
  target_include_directories(aat_plugin_${api} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  install(TARGETS aat_plugin_${api} EXPORT aatTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${api_source_dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()

install(EXPORT aatTargets NAMESPACE aat:: DESTINATION ${AAT_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/aatConfig.cmake.in
  ${CMAKE_BINARY_DIR}/package/aatConfig.cmake
  INSTALL_DESTINATION ${AAT_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_BINDIR CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/package/aatConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/package/aatConfig.cmake ${CMAKE_BINARY_DIR}/package/aatConfigVersion.cmake
        DESTINATION ${AAT_INSTALL_CMAKEDIR})

# pkg-config: relocatable (prefix from ${pcfiledir}), so `cmake --install --prefix P` works.
set(AAT_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH AAT_PC_TO_PREFIX ${CMAKE_INSTALL_PREFIX}/${AAT_PKGCONFIG_DIR} ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" AAT_PC_TO_PREFIX "${AAT_PC_TO_PREFIX}")
foreach(pc aat aat-c)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${CMAKE_BINARY_DIR}/package/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/package/${pc}.pc DESTINATION ${AAT_PKGCONFIG_DIR})
endforeach()
