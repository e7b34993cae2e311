# The shader compilers plugin kernels are built with, and the kernel families each can build.
#
#   glslc   (shaderc; Debian 12: glslang 12 inside) optimizes; knows GL_NV_cooperative_matrix.
#   glslang >= 15.1 knows GL_KHR_cooperative_matrix and GL_NV_cooperative_matrix2 too. Found, in
#           order: -DAAT_GLSLANG=PATH; `glslang` or `glslangValidator` on PATH; the cache folder
#           scripts/build-glslang.sh fills (${AAT_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-~/.cache}/aat/
#           toolchain}/glslang/bin). The first that compiles the coopmat2 probe wins.
#
# Each compiler is feature-tested at configure time by compiling one tiny shader per family
# (as ggml-vulkan does), and the result is printed. A kernel states what it needs in a comment
# line `// REQUIRES: <family> ...`; aat_compile_shader() (cmake/AatPlugin.cmake) uses glslc
# when it can build the kernel, else glslang, else skips the kernel with a configure message.
#
# Families: scalar (plain GLSL), coopmat_nv, coopmat_khr, coopmat2.
# Results: AAT_GLSLC, AAT_GLSLC_VERSION, AAT_GLSLC_FAMILIES, AAT_GLSLANG (or empty),
#          AAT_GLSLANG_VERSION, AAT_GLSLANG_FAMILIES.

set(AAT_KERNEL_FAMILY_NAMES scalar coopmat_nv coopmat_khr coopmat2)
set(_aat_probe_dir "${CMAKE_BINARY_DIR}/shader-compiler-probes")
file(MAKE_DIRECTORY "${_aat_probe_dir}")

set(_aat_probe_head "#version 450\n#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require\n#extension GL_EXT_shader_16bit_storage : require\n#extension GL_KHR_memory_scope_semantics : require\nlayout(local_size_x = 32) in;\nlayout(std430, binding = 0) buffer Halves { float16_t h[]; } halves;\nlayout(std430, binding = 1) buffer Floats { float f[]; } floats;\n")
set(_aat_probe_scalar "void main() { halves.h[gl_LocalInvocationID.x] = float16_t(1.0); }\n")
set(_aat_probe_coopmat_nv "#extension GL_NV_cooperative_matrix : require
void main() {
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a;
  coopMatLoadNV(a, halves.h, 0, 16, false);
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> c = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  c = coopMatMulAddNV(a, a, c);
  coopMatStoreNV(c, floats.f, 0, 16, false);
}\n")
set(_aat_probe_coopmat_khr "#extension GL_KHR_cooperative_matrix : require
void main() {
  coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> a;
  coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> b;
  coopMatLoad(a, halves.h, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
  coopMatLoad(b, halves.h, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
  coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> c = coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
  c = coopMatMulAdd(a, b, c);
  coopMatStore(c, floats.f, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
}\n")
set(_aat_probe_coopmat2 "#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int32 : require
float combine_max(const in float x, const in float y) { return max(x, y); }
float exp_of(const in uint32_t row, const in uint32_t col, const in float x) { return exp(x); }
void main() {
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> t = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  t = setTensorLayoutDimensionNV(t, 16, 16);
  coopmat<float16_t, gl_ScopeWorkgroup, 16, 16, gl_MatrixUseA> a;
  coopMatLoadTensorNV(a, halves.h, 0, sliceTensorLayoutNV(t, 0, 16, 0, 16));
  coopmat<float16_t, gl_ScopeWorkgroup, 16, 16, gl_MatrixUseB> b;
  coopMatLoadTensorNV(b, halves.h, 0, sliceTensorLayoutNV(t, 0, 16, 0, 16), createTensorViewNV(2, false, 1, 0));
  coopmat<float, gl_ScopeWorkgroup, 16, 16, gl_MatrixUseAccumulator> c = coopmat<float, gl_ScopeWorkgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
  c = coopMatMulAdd(a, b, c);
  coopmat<float, gl_ScopeWorkgroup, 16, 16, gl_MatrixUseAccumulator> m;
  coopMatReduceNV(m, c, gl_CooperativeMatrixReduceRowNV, combine_max);
  coopMatPerElementNV(c, c - m, exp_of);
  coopmat<float16_t, gl_ScopeWorkgroup, 16, 16, gl_MatrixUseA> p = coopmat<float16_t, gl_ScopeWorkgroup, 16, 16, gl_MatrixUseA>(c);
  coopMatStoreTensorNV(c, floats.f, 0, sliceTensorLayoutNV(t, 0, 16, 0, 16));
}\n")

# _aat_probe_families(<kind glslc|glslang> <path> <out-var>): the families <path> compiles.
function(_aat_probe_families kind path out_var)
  set(families)
  foreach(family ${AAT_KERNEL_FAMILY_NAMES})
    set(source "${_aat_probe_dir}/${kind}_${family}.comp")
    file(WRITE "${source}" "${_aat_probe_head}${_aat_probe_${family}}")
    if(kind STREQUAL "glslc")
      set(command "${path}" --target-env=vulkan1.3 -fshader-stage=compute -o "${source}.spv" "${source}")
    else()
      set(command "${path}" -V --target-env vulkan1.3 -S comp -o "${source}.spv" "${source}")
    endif()
    execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      list(APPEND families ${family})
    endif()
  endforeach()
  set(${out_var} "${families}" PARENT_SCOPE)
endfunction()

# _aat_tool_version(<path> <regex with one group> <out-var>)
function(_aat_tool_version path regex out_var)
  execute_process(COMMAND "${path}" --version OUTPUT_VARIABLE text ERROR_VARIABLE text RESULT_VARIABLE rc)
  set(version "unknown")
  if(rc EQUAL 0 AND text MATCHES "${regex}")
    set(version "${CMAKE_MATCH_1}")
  endif()
  set(${out_var} "${version}" PARENT_SCOPE)
endfunction()

find_program(AAT_GLSLC glslc REQUIRED)
_aat_tool_version("${AAT_GLSLC}" "shaderc ([0-9][^ \n]*)" AAT_GLSLC_VERSION)
_aat_probe_families(glslc "${AAT_GLSLC}" AAT_GLSLC_FAMILIES)

set(AAT_GLSLANG "" CACHE FILEPATH "glslang >= 15.1 for KHR cooperative-matrix and coopmat2 kernels (empty: search)")
set(_aat_glslang_candidates)
if(AAT_GLSLANG)
  list(APPEND _aat_glslang_candidates "${AAT_GLSLANG}")
else()
  find_program(_aat_glslang_on_path NAMES glslang glslangValidator NO_CACHE)
  if(_aat_glslang_on_path)
    list(APPEND _aat_glslang_candidates "${_aat_glslang_on_path}")
  endif()
  if(DEFINED ENV{AAT_TOOLCHAIN_DIR})
    list(APPEND _aat_glslang_candidates "$ENV{AAT_TOOLCHAIN_DIR}/glslang/bin/glslang")
  endif()
  if(DEFINED ENV{XDG_CACHE_HOME})
    list(APPEND _aat_glslang_candidates "$ENV{XDG_CACHE_HOME}/aat/toolchain/glslang/bin/glslang")
  endif()
  if(DEFINED ENV{HOME})
    list(APPEND _aat_glslang_candidates "$ENV{HOME}/.cache/aat/toolchain/glslang/bin/glslang")
  endif()
endif()
set(_aat_glslang_found "")
set(AAT_GLSLANG_FAMILIES "")
set(AAT_GLSLANG_VERSION "")
foreach(candidate ${_aat_glslang_candidates})
  if(NOT EXISTS "${candidate}")
    continue()
  endif()
  _aat_probe_families(glslang "${candidate}" families)
  if("coopmat2" IN_LIST families OR AAT_GLSLANG)
    set(_aat_glslang_found "${candidate}")
    set(AAT_GLSLANG_FAMILIES "${families}")
    _aat_tool_version("${candidate}" "Glslang Version: [0-9]+:([0-9.]+)" AAT_GLSLANG_VERSION)
    break()
  endif()
endforeach()
set(AAT_GLSLANG_EXECUTABLE "${_aat_glslang_found}")

message(STATUS "AAT shader compiler glslc ${AAT_GLSLC_VERSION} (${AAT_GLSLC}): kernel families ${AAT_GLSLC_FAMILIES}")
if(AAT_GLSLANG_EXECUTABLE)
  message(STATUS "AAT shader compiler glslang ${AAT_GLSLANG_VERSION} (${AAT_GLSLANG_EXECUTABLE}): kernel families ${AAT_GLSLANG_FAMILIES}")
else()
  message(STATUS "AAT shader compiler glslang >= 15.1: not found (run scripts/build-glslang.sh, or set AAT_GLSLANG); "
                 "kernels that need coopmat_khr or coopmat2 are skipped")
endif()

# aat_shader_compiler_for(<shader> <out-compiler-kind> <out-requirements>): which compiler builds
# <shader> ("glslc", "glslang" or "" when none can) and what it requires.
function(aat_shader_compiler_for shader out_kind out_requirements)
  file(STRINGS "${shader}" lines REGEX "^//[ ]*REQUIRES:")
  set(requirements)
  foreach(line ${lines})
    string(REGEX REPLACE "^//[ ]*REQUIRES:[ ]*" "" line "${line}")
    string(REGEX REPLACE "[ ,]+" ";" line "${line}")
    foreach(family ${line})
      if(NOT family IN_LIST AAT_KERNEL_FAMILY_NAMES)
        message(FATAL_ERROR "${shader}: unknown kernel family '${family}' in REQUIRES (known: ${AAT_KERNEL_FAMILY_NAMES})")
      endif()
      list(APPEND requirements ${family})
    endforeach()
  endforeach()
  foreach(kind glslc glslang)
    if(kind STREQUAL "glslang" AND NOT AAT_GLSLANG_EXECUTABLE)
      continue()
    endif()
    string(TOUPPER "${kind}" upper)
    set(ok TRUE)
    foreach(family ${requirements})
      if(NOT family IN_LIST AAT_${upper}_FAMILIES)
        set(ok FALSE)
      endif()
    endforeach()
    if(ok)
      set(${out_kind} "${kind}" PARENT_SCOPE)
      set(${out_requirements} "${requirements}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out_kind} "" PARENT_SCOPE)
  set(${out_requirements} "${requirements}" PARENT_SCOPE)
endfunction()
