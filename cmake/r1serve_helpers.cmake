# r1serve_library(NAME DIR LIBS...): a static library from every *.cc in DIR except *_test.cc,
# *_main.cc and *_bench.cc, plus one GoogleTest executable per *_test.cc registered with CTest
# (label "unit"). Globbing keeps each folder's owner free to add files without touching shared
# build files.
function(r1serve_library name dir)
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_(test|main|bench)\\.cc$")
  if(srcs)
    add_library(${name} STATIC ${srcs})
    target_link_libraries(${name} PUBLIC ${ARGN})
  else()  # a folder still being written: header-only for now
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
  if(R1SERVE_BUILD_TESTS)
    file(GLOB tests CONFIGURE_DEPENDS ${dir}/*_test.cc)
    foreach(test_src ${tests})
      get_filename_component(test_name ${test_src} NAME_WE)
      add_executable(${test_name} ${test_src})
      set_target_properties(${test_name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
      target_link_libraries(${test_name} PRIVATE ${name} GTest::gtest GTest::gmock GTest::gtest_main)
      target_compile_definitions(${test_name} PRIVATE
        R1SERVE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
      add_test(NAME ${test_name} COMMAND ${test_name})
      set_tests_properties(${test_name} PROPERTIES LABELS unit
        ENVIRONMENT "R1SERVE_SOURCE_DIR=${CMAKE_SOURCE_DIR};R1SERVE_BUILD_DIR=${CMAKE_BINARY_DIR}")
    endforeach()
  endif()
endfunction()

# r1serve_node_e2e(NAME SCRIPT): an end-to-end test (label "e2e") that runs SCRIPT, relative to the
# calling folder, with `node --test`: real service binaries on loopback, called by the
# independent grpc-js client from tests/peers.
function(r1serve_node_e2e name script)
  add_test(NAME ${name}
    COMMAND ${NODE_EXECUTABLE} --test ${CMAKE_CURRENT_SOURCE_DIR}/${script})
  set_tests_properties(${name} PROPERTIES LABELS e2e TIMEOUT 300
    ENVIRONMENT "R1SERVE_SOURCE_DIR=${CMAKE_SOURCE_DIR};R1SERVE_BUILD_DIR=${CMAKE_BINARY_DIR};NODE_PATH=${CMAKE_SOURCE_DIR}/tests/peers/node_modules")
endfunction()
