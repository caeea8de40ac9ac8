#include "lib/verify/sandbox/python_driver.h"

namespace r1serve::verify {

std::string_view PythonFunctionCallDriver() {
  return R"PY(import json
import os
import sys


def _resolve(namespace, name):
    if "." in name:
        class_name, method = name.split(".", 1)
        cls = namespace.get(class_name)
        if not isinstance(cls, type):
            raise SystemExit("r1serve: class %s is not defined" % class_name)
        return getattr(cls(), method)
    function = namespace.get(name)
    if callable(function):
        return function
    solution = namespace.get("Solution")
    if isinstance(solution, type) and hasattr(solution, name):
        return getattr(solution(), name)
    raise SystemExit("r1serve: function %s is not defined" % name)


def _plain(value):
    if isinstance(value, (set, frozenset)):
        items = [_plain(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _main():
    program_path, args_path, name = sys.argv[1:4]
    channel = os.fdopen(3, "w", encoding="utf-8")
    with open(args_path, encoding="utf-8") as f:
        args = json.load(f)
    with open(program_path, encoding="utf-8") as f:
        source = f.read()
    sys.argv = [program_path]
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    exec(compile(source, "solution.py", "exec"), namespace)
    result = _resolve(namespace, name)(*args)
    channel.write(json.dumps(_plain(result), allow_nan=False))
    channel.close()


_main()
)PY";
}

}  // namespace r1serve::verify
