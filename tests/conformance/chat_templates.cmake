# Chat templates against the real Jinja templates. The oracle (node) renders a set of
# conversations with each family's own template into a JSON file; the GoogleTest replays them
# through RenderChat and expects identical prompts. The oracle is a CTest fixture, so running
# the conformance test alone still renders the cases first.
find_program(R1SERVE_NODE NAMES node nodejs)
if(NOT R1SERVE_NODE)
  message(WARNING "node not found: chat template conformance tests are not registered")
  return()
endif()

set(chat_template_cases ${CMAKE_BINARY_DIR}/tests/chat_template_cases.json)

add_test(NAME chat_template_oracle
  COMMAND ${R1SERVE_NODE} ${CMAKE_CURRENT_LIST_DIR}/chat_template_oracle.js
          ${chat_template_cases} ${CMAKE_SOURCE_DIR}/tests/peers)
set_tests_properties(chat_template_oracle PROPERTIES
  FIXTURES_SETUP chat_template_cases
  LABELS conformance)

add_executable(chat_template_conformance_test ${CMAKE_CURRENT_LIST_DIR}/chat_template_conformance_test.cc)
target_link_libraries(chat_template_conformance_test PRIVATE
  r1serve_text GTest::gtest_main nlohmann_json::nlohmann_json)
set_target_properties(chat_template_conformance_test PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME chat_template_conformance COMMAND chat_template_conformance_test)
set_tests_properties(chat_template_conformance PROPERTIES
  FIXTURES_REQUIRED chat_template_cases
  LABELS conformance
  ENVIRONMENT "R1SERVE_CHAT_TEMPLATE_CASES=${chat_template_cases};R1SERVE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
