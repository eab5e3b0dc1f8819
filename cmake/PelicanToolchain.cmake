# Compiler launcher, warnings and the helpers every component's CMakeLists uses.

if(PELICAN_USE_CCACHE)
  find_program(CCACHE_PROGRAM ccache)
  if(CCACHE_PROGRAM)
    # Precompiled headers need these sloppiness settings to get cache hits.
    # CCACHE_BASEDIR makes paths relative, so clones and worktrees share cache entries.
    set(_pelican_ccache env CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
        CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} ${CCACHE_PROGRAM})
    set(CMAKE_C_COMPILER_LAUNCHER ${_pelican_ccache})
    set(CMAKE_CXX_COMPILER_LAUNCHER ${_pelican_ccache})
    message(STATUS "pelican: ccache ${CCACHE_PROGRAM}")
  endif()
endif()

# Git revision for --version and pelican_build_info.
execute_process(COMMAND git rev-parse --short=12 HEAD
                WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                OUTPUT_VARIABLE PELICAN_GIT_SHA OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT PELICAN_GIT_SHA)
  set(PELICAN_GIT_SHA "unknown")
endif()

# pelican_warnings(TARGET): the warning set all our own code compiles with.
function(pelican_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# pelican_torch_pch(TARGET): precompile LibTorch's headers for TARGET. Each target gets its own PCH
# (reusing one across targets requires identical flags, which test and library targets do not have).
function(pelican_torch_pch target)
  if(PELICAN_USE_PCH AND TARGET ${target})
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  endif()
endfunction()

# pelican_test(NAME SOURCES... LIBS...): one GoogleTest binary per component, registered with CTest.
function(pelican_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT PELICAN_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  pelican_warnings(${name})
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    PROPERTIES ENVIRONMENT "PELICAN_SOURCE_DIR=${CMAKE_SOURCE_DIR};PELICAN_BINARY_DIR=${CMAKE_BINARY_DIR};PELICAN_PYTHON=${PELICAN_PYTHON}"
    DISCOVERY_TIMEOUT 60)
endfunction()
