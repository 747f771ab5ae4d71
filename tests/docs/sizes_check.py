#!/usr/bin/python3
"""The house's size rules hold (docs/ARCHITECTURE.md, "Tests and scripts"): a function fits on a
screen and a file holds one room.

    sizes_check.py ROOT [CTAGS]

    functions  every function definition in a C or C++ file outside tests/ (the projects' code,
               its tools and fuzzers) has at most FUNCTION_LIMIT lines, from the line of its name
               to its closing brace, as Universal Ctags measures it (its `end:` field); CTAGS is
               the ctags binary (default: `ctags` on PATH, Debian's universal-ctags)
    files      every code file (C, C++, Python, shell, CMake) anywhere in ROOT, tests included,
               has at most FILE_LIMIT lines

A finding in ALLOWED is not an error; each entry says why it is allowed. An entry that no longer
matches an oversized function or file is an error too, so the list cannot keep a stale exception.
The files are docs_check.py's: git's list when ROOT is a git checkout, else a tree walk.

Exit 0 when everything holds, 1 with one line per finding otherwise, 2 on a usage error or when
ctags is missing or is not Universal Ctags (its end lines are what this check measures).
"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree by the import below
from docs_check import repo_files  # noqa: E402  # the same list of the repository's files as the docs checks

FUNCTION_LIMIT = 100
FILE_LIMIT = 800
C_FAMILY = (".c", ".cc", ".cpp", ".h", ".hpp")
CODE = C_FAMILY + (".py", ".sh", ".cmake")
# Folders whose functions are exempt from FUNCTION_LIMIT: a test's body is a script of steps read
# top to bottom (its helpers are still code and live in the files it includes); files there still
# obey FILE_LIMIT.
TEST_DIRS = ("tests/",)

# Justified exceptions: "path:function" or "path" -> why. Keep it short; every entry is a debt.
ALLOWED = {
}


def is_code(path):
    return path.endswith(CODE) or os.path.basename(path) == "CMakeLists.txt"


def oversized_files(root, files):
    """(key, message) for every code file over FILE_LIMIT lines."""
    found = []
    for path in files:
        if not is_code(path):
            continue
        with open(os.path.join(root, path), "rb") as f:
            lines = f.read().count(b"\n")
        if lines > FILE_LIMIT:
            found.append((path, f"{path}: {lines} lines (limit {FILE_LIMIT})"))
    return found


def oversized_functions(root, files, ctags):
    """(key, message) for every function definition over FUNCTION_LIMIT lines outside TEST_DIRS."""
    sources = [p for p in files if p.endswith(C_FAMILY) and not p.startswith(TEST_DIRS)]
    if not sources:
        return []
    # Functions only (kind f), with their line and end line; one JSON object per tag.
    argv = [ctags, "--output-format=json", "--fields=+ne", "--kinds-C=f", "--kinds-C++=f", "--map-C++=+.h",
            "-L", "-", "-f", "-"]
    result = subprocess.run(argv, cwd=root, input="\n".join(sources) + "\n", capture_output=True, text=True,
                            timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    found = []
    for line in result.stdout.splitlines():
        tag = json.loads(line)
        if tag.get("_type") != "tag" or tag.get("kind") != "function":
            continue
        if "end" not in tag:
            raise RuntimeError(f"ctags gave no end line for {tag['path']}:{tag['line']} {tag['name']}")
        length = tag["end"] - tag["line"] + 1
        if length > FUNCTION_LIMIT:
            found.append((f"{tag['path']}:{tag['name']}",
                          f"{tag['path']}:{tag['line']}: {tag['name']} has {length} lines (limit {FUNCTION_LIMIT})"))
    return found


def check_ctags(ctags):
    try:
        version = subprocess.run([ctags, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError as e:
        raise RuntimeError(f"{ctags}: {e.strerror} (install universal-ctags, scripts/deps.sh)") from e
    if "Universal Ctags" not in version:
        raise RuntimeError(f"{ctags} is not Universal Ctags (install universal-ctags, scripts/deps.sh)")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = argv[1]
    ctags = argv[2] if len(argv) == 3 else "ctags"
    try:
        check_ctags(ctags)
        files = repo_files(root)
        findings = oversized_files(root, files) + oversized_functions(root, files, ctags)
    except RuntimeError as e:
        print(f"sizes_check: {e}", file=sys.stderr)
        return 2
    errors = [message for key, message in findings if key not in ALLOWED]
    matched = {key for key, _ in findings}
    errors += [f"{key}: listed in ALLOWED ({why}) but no longer over its limit: take it off the list"
               for key, why in sorted(ALLOWED.items()) if key not in matched]
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} finding(s); split the function by its phases or the file by its rooms "
              "(or, with a reason, add it to ALLOWED in tests/docs/sizes_check.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
