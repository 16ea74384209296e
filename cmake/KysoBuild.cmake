# Shared compile options and the helpers every module and test folder uses.
option(KYSO_WERROR "Warnings are errors (CI: ON)" OFF)
option(KYSO_FUZZ "Build libFuzzer targets (needs clang)" OFF)
option(KYSO_ALLOW_SKIP "Let tests exit 77 when a component is left out on purpose (local runs only)" OFF)
set(KYSO_SANITIZE "" CACHE STRING "address,undefined | thread")

add_library(kyso_options INTERFACE)
target_compile_features(kyso_options INTERFACE c_std_11)
target_compile_definitions(kyso_options INTERFACE _DEFAULT_SOURCE
  $<$<CONFIG:Release,RelWithDebInfo>:_FORTIFY_SOURCE=2>)
target_compile_options(kyso_options INTERFACE -Wall -Wextra -Wformat=2 -Wshadow
  -Wpointer-arith -Wcast-qual -Wundef -Wstrict-prototypes -Wmissing-prototypes -Wvla
  -Wimplicit-fallthrough -fstack-protector-strong -fno-common $<$<BOOL:${KYSO_WERROR}>:-Werror>)
if(KYSO_SANITIZE)
  target_compile_options(kyso_options INTERFACE -fsanitize=${KYSO_SANITIZE}
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(kyso_options INTERFACE -fsanitize=${KYSO_SANITIZE})
endif()
if(KYSO_FUZZ)
  # Every object is instrumented for coverage so the fuzzer sees inside the libraries.
  target_compile_options(kyso_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer -DKYSO_FUZZING=1)
  target_link_options(kyso_options INTERFACE -fsanitize=address,undefined)
endif()

# kyso_module(NAME SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...)
# A static library with its public headers under include/ and a generated translation unit per
# public header, so that each header is proven to compile alone.
function(kyso_module name)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB _hdrs RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}/include
    ${CMAKE_CURRENT_SOURCE_DIR}/include/kyso/*.h)
  set(_alone)
  foreach(h ${_hdrs})
    string(MAKE_C_IDENTIFIER ${h} _id)
    set(_f ${CMAKE_CURRENT_BINARY_DIR}/header_alone_${_id}.c)
    file(WRITE ${_f}.tmp "#include <${h}>\n")
    configure_file(${_f}.tmp ${_f} COPYONLY)
    list(APPEND _alone ${_f})
  endforeach()
  add_library(${name} STATIC ${M_SOURCES} ${_alone})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                     PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${M_PUBLIC_DEPS} PRIVATE kyso_options ${M_PRIVATE_DEPS})
endfunction()

# kyso_unit_test(NAME SOURCES ... LIBS ... WRAP sym ...)
function(kyso_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;WRAP;INCLUDES" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE kyso_options ${T_LIBS} PkgConfig::CMOCKA)
  target_include_directories(${name} PRIVATE ${T_INCLUDES})
  foreach(sym ${T_WRAP})
    target_link_options(${name} PRIVATE -Wl,--wrap=${sym})
  endforeach()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

# kyso_fuzz_target(NAME SOURCES ... LIBS ... CORPUS dir SECONDS n)
# Built only with KYSO_FUZZ (clang). ctest runs it for a short, bounded time as a smoke test;
# `cmake --build . --target fuzz-long` is for the long runs before a release.
function(kyso_fuzz_target name)
  cmake_parse_arguments(F "" "CORPUS;SECONDS" "SOURCES;LIBS;INCLUDES" ${ARGN})
  if(NOT KYSO_FUZZ)
    return()
  endif()
  if(NOT F_SECONDS)
    set(F_SECONDS 10)
  endif()
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE kyso_options ${F_LIBS})
  target_include_directories(${name} PRIVATE ${F_INCLUDES})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(_corpus ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
  set(_seed)
  if(F_CORPUS)
    set(_seed ${F_CORPUS})
  endif()
  add_test(NAME ${name}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
      ${CMAKE_SOURCE_DIR}/tests/fuzz/run-fuzzer $<TARGET_FILE:${name}> ${_corpus} ${F_SECONDS} ${_seed})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()
