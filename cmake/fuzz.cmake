# fuzz.cmake — the libFuzzer targets of tests/fuzz (docs/fuzzing.md).
#
# Included from CMakeLists.txt before extrace_lib is defined, so that with
# -DEXTRACE_FUZZ=ON every project source is compiled with the fuzzer's
# coverage instrumentation plus ASan and UBSan. Needs clang:
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DEXTRACE_FUZZ=ON
# `make fuzz` (scripts/fuzz) does this, builds the targets and runs them.
option(EXTRACE_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)
if(EXTRACE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "EXTRACE_FUZZ needs clang (libFuzzer): configure with -DCMAKE_C_COMPILER=clang, "
                        "not ${CMAKE_C_COMPILER_ID}")
  endif()
  if(EXTRACE_SANITIZE)
    message(FATAL_ERROR "EXTRACE_FUZZ already builds with ASan and UBSan: leave EXTRACE_SANITIZE off")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  add_subdirectory(${CMAKE_SOURCE_DIR}/tests/fuzz ${CMAKE_BINARY_DIR}/fuzz)
endif()
