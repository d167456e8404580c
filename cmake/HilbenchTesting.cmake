include_guard(GLOBAL)
find_library(UMOCKDEV_PRELOAD NAMES libumockdev-preload.so.0 umockdev-preload REQUIRED)

# hilbench_add_boost_test(<source> <libraries...>)
function(hilbench_add_boost_test source)
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_compile_options(${name} PRIVATE ${HILBENCH_WARNINGS})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_BUILD_TYPE STREQUAL "Release")
    # Test code at -O2 (the last -O wins): at pip's -O3 (ci/test shares pip's tree) GCC 12
    # reports libstdc++ inlined into the tests as out-of-bounds or overlapping memcpy, known
    # false positives (GCC PR 105329 and kin). The code under test keeps its flags.
    target_compile_options(${name} PRIVATE -O2)
  endif()
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK
    HILBENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    HILBENCH_EMULATOR_PATH="$<TARGET_FILE:hilbench-emulator>"
    HILBENCH_PRESENTER_PATH="$<TARGET_FILE:hilbench-presenter>")
  target_link_libraries(${name} PRIVATE ${ARGN} Boost::unit_test_framework)
  # Process tests launch the emulator and the port presenter: build them with every test.
  add_dependencies(${name} hilbench-emulator hilbench-present-port hilbench-presenter
    hilbench-termios-shim)
  add_test(NAME ${name} COMMAND ${name} --log_level=test_suite)
  set_tests_properties(${name} PROPERTIES TIMEOUT 120)
  if(name MATCHES "serial|umockdev")
    # The harness side of an emulated UART: umockdev's preload plus the termios shim, which
    # routes glibc's termios calls through ioctl() to the port's handler (7E1/8E1).
    set_tests_properties(${name} PROPERTIES ENVIRONMENT
      "LD_PRELOAD=${UMOCKDEV_PRELOAD} $<TARGET_FILE:hilbench-termios-shim>")
  endif()
endfunction()

# hilbench_add_boost_tests(<directory> <libraries...>): one test per <directory>/test_*.cpp.
# Device tests live next to what they test (devices/common/tests, devices/<kind>/tests).
function(hilbench_add_boost_tests directory)
  file(GLOB test_sources CONFIGURE_DEPENDS ${directory}/test_*.cpp)
  foreach(source IN LISTS test_sources)
    hilbench_add_boost_test(${source} ${ARGN})
  endforeach()
endfunction()
