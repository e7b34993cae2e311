#!/usr/bin/python3
"""The README runs as written: its tour block from top to bottom, and every error sample in its
```console blocks gives exactly the output shown (and exit status 1). The C++ snippet's sample
error is pinned by tests/test_saxpy.cpp; this checks the README quotes what that test expects.

Usage: test_readme.py AAT_BINARY SOURCE_DIR   (the binary's build folder stands in for ./build)
"""
import os
import re
import subprocess
import sys
import tempfile

try:
    import numpy  # noqa: F401  (the tour's python3 lines need it)
except ImportError:
    print("SKIP: /usr/bin/python3 with numpy is needed", file=sys.stderr)
    sys.exit(77)


def blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def main():
    aat, source = sys.argv[1], os.path.abspath(sys.argv[2])
    readme = open(os.path.join(source, "README.md")).read()
    build = os.path.dirname(os.path.dirname(os.path.abspath(aat)))  # <build>/bin/aat
    failures = []
    env = dict(os.environ, PATH="/usr/bin:/bin:" + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory(prefix="aat_readme.") as work:
        os.symlink(build, os.path.join(work, "build"))
        os.symlink(os.path.join(source, "examples"), os.path.join(work, "examples"))

        tour = blocks(readme.split("## A short tour", 1)[1], "sh")[0]
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", tour], cwd=work, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            failures.append(f"the tour stopped with status {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        else:
            print(f"ok   - the tour ran top to bottom ({len(tour.strip().splitlines())} lines)")

        samples = 0
        for block in blocks(readme, "console"):
            lines = block.rstrip("\n").split("\n")
            i = 0
            while i < len(lines):
                command = lines[i]
                assert command.startswith("$ "), f"a console block line that is no command: {command}"
                expected = []
                i += 1
                while i < len(lines) and not lines[i].startswith("$ "):
                    expected.append(lines[i])
                    i += 1
                samples += 1
                got = subprocess.run(["bash", "-c", command[2:]], cwd=work, env=env, capture_output=True, text=True)
                output = (got.stdout + got.stderr).rstrip("\n").split("\n")
                wants_error = bool(expected) and expected[0].startswith("aat: error:")
                if output != expected:
                    failures.append(f"{command}\n  printed:  {output}\n  README:   {expected}")
                elif wants_error and got.returncode != 1:
                    failures.append(f"{command}\n  exit status {got.returncode}, expected 1")
                else:
                    print(f"ok   - {command}")
        if samples == 0:
            failures.append("no ```console samples found in the README")

    quoted = re.search(r"`stream\.dispatch` returns\n`([^`]+)`", readme)
    saxpy_test = open(os.path.join(source, "tests", "test_saxpy.cpp")).read()
    if not quoted or f'"{quoted.group(1)}"' not in saxpy_test:
        failures.append("the C++ sample error in the README is not the one tests/test_saxpy.cpp checks")
    else:
        print("ok   - the C++ sample error is the one tests/test_saxpy.cpp checks")

    for failure in failures:
        print(f"FAIL - {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
