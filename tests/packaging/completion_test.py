#!/usr/bin/python3
"""The bash completion of pbxstate, run in bash, against `pbxstate --help`: every command path
completes its subcommands, `--` completes every option its --help lists (and nothing else), a
value after an option that takes one and a positional argument complete file names.

    completion_test.py COMPLETION_SCRIPT PBXSTATE
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from man_pages_test import parse_help  # noqa: E402

FAILURES = []


def complete(script, words, cwd):
    """COMPREPLY of _pbxstate for the words typed so far (the last one is being completed)."""
    program = (f"source {shlex.quote(script)}\n"
               f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
               "_pbxstate; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0 or r.stderr:
        FAILURES.append(f"bash: {' '.join(words)!r}: {r.stderr.strip()}")
    return sorted(w for w in r.stdout.splitlines() if w)


def main():
    script, pbxstate = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        open(os.path.join(tmp, "abc-scenario.yaml"), "w").close()

        def walk(path):
            help_text = subprocess.run([pbxstate] + path + ["--help"], capture_output=True, text=True).stdout
            subs, opts = parse_help(help_text)
            words = ["pbxstate"] + path
            if subs:
                got = complete(script, words + [""], tmp)
                if got != sorted(subs):
                    FAILURES.append(f"'{' '.join(words)} <TAB>': {got}, --help lists {sorted(subs)}")
            names = sorted(n for names, _ in opts for n in names.split(",") if n.startswith("-"))
            got = complete(script, words + ["-"], tmp)
            if got != names:
                FAILURES.append(f"'{' '.join(words)} -<TAB>': {got}, --help lists {names}")
            if not subs and any(not n.startswith("-") for n, _ in opts):
                got = complete(script, words + ["abc"], tmp)
                if got != ["abc-scenario.yaml"]:
                    FAILURES.append(f"'{' '.join(words)} abc<TAB>' (a positional argument): {got}")
            for names, _ in opts:
                long = names.split(",")[-1]
                # CLI11 writes an option's value type one space after its name ("--seed UINT"),
                # its description two or more spaces after.
                line = next((l for l in help_text.splitlines() if re.match(r"^\s+" + re.escape(names) + r" [A-Z]", l)), None)
                if line is not None and long.startswith("--"):
                    got = complete(script, words + [long, "abc"], tmp)
                    if got != ["abc-scenario.yaml"]:
                        FAILURES.append(f"'{' '.join(words)} {long} abc<TAB>' (its value): {got}")
            for sub in subs:
                walk(path + [sub])

        walk([])
    for f in FAILURES:
        print("FAIL " + f, file=sys.stderr)
    if FAILURES:
        return 1
    print("bash completion agrees with --help for every command")
    return 0


if __name__ == "__main__":
    sys.exit(main())
