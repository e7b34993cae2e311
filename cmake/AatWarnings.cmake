# aat_set_warnings(target): the warning set every AAT target compiles with.
function(aat_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor)
  if(AAT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
