# The C API (framework/include/aat/aat.h): libaat_c.so, alias aat::c.
#
# Its own library so that libaat's C++ symbols stay out of C programs' way: libaat_c links
# libaat.so (plugins' ops are found by name at run time: aat_op_find, aat_op_run) and exports
# only the aat_* C functions (-fvisibility=hidden, --exclude-libs).
# Sources live in framework/src/c_api/ (a subfolder: framework/'s glob of src/*.cpp, which
# builds libaat, does not pick them up). embed.cpp is shared with the Python module.

set(AAT_C_API_DIR ${CMAKE_SOURCE_DIR}/framework/src/c_api)

# The kernel-by-name runner shared by the C API and the Python module.
add_library(aat_embed_support OBJECT ${AAT_C_API_DIR}/embed.cpp)
target_include_directories(aat_embed_support PUBLIC ${AAT_C_API_DIR})
target_link_libraries(aat_embed_support PUBLIC aat::aat PRIVATE fmt::fmt)
set_target_properties(aat_embed_support PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
aat_set_warnings(aat_embed_support)

add_library(aat_c SHARED ${AAT_C_API_DIR}/c_api.cpp)
add_library(aat::c ALIAS aat_c)
target_include_directories(aat_c PUBLIC
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/framework/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(aat_c PRIVATE aat::aat aat_embed_support fmt::fmt)
target_link_options(aat_c PRIVATE "LINKER:--exclude-libs,ALL")
set_target_properties(aat_c PROPERTIES
  OUTPUT_NAME aat_c
  EXPORT_NAME c
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
  INSTALL_RPATH "$ORIGIN")
aat_set_warnings(aat_c)
install(TARGETS aat_c EXPORT aatTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
