// The Python script that runs a function-call test: it executes the program (with __name__ set
// to "solution", so an `if __name__ == "__main__":` block does not run), calls the function
// with the JSON arguments, and writes json.dumps(result) to fd 3, the sandbox's result channel.
//
//   python3 -I -B driver.py <program.py> <args.json> <function_name>
//
// function_name is "f" (a top-level function, else a method of a class named Solution, the
// LeetCode form) or "Class.method" (called on Class()).
#pragma once

#include <string_view>

namespace r1serve::verify {

std::string_view PythonFunctionCallDriver();

}  // namespace r1serve::verify
