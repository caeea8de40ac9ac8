# Engine conformance against llama.cpp (engine_llama_cpp_test.cc): tiny Qwen2 and Llama 3 GGUF
# models written by r1serve-make-model, loaded by r1serve and by llama.cpp (npm node-llama-cpp
# through llama_cpp_oracle.js); last-position log-probabilities and 32 greedy steps compared.
# Skips (77) when the npm peers are not installed. Included from CMakeLists.txt, which finds
# R1SERVE_NODE.
if(R1SERVE_NODE AND TARGET r1serve_engine_runtime AND TARGET r1serve-make-model)
  add_executable(engine_llama_cpp_test ${CMAKE_CURRENT_LIST_DIR}/engine_llama_cpp_test.cc)
  set_target_properties(engine_llama_cpp_test PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(engine_llama_cpp_test PRIVATE
    r1serve_engine_runtime GTest::gtest nlohmann_json::nlohmann_json absl::strings)
  add_test(NAME engine_llama_cpp_conformance
    COMMAND engine_llama_cpp_test
      --make_model $<TARGET_FILE:r1serve-make-model>
      --node ${R1SERVE_NODE}
      --oracle ${CMAKE_CURRENT_LIST_DIR}/llama_cpp_oracle.js
      --peers ${CMAKE_SOURCE_DIR}/tests/peers/node_modules
      --work_dir ${CMAKE_CURRENT_BINARY_DIR}/engine_llama_cpp)
  set_tests_properties(engine_llama_cpp_conformance PROPERTIES
    LABELS conformance TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()
