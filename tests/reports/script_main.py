"""What the script tests (the ones CTest runs with arguments, not pytest: the reports' and
tests/sim/cli's) share: the end of a test that gathered its problems, and its command line."""
import sys


def verdict(problems):
    """Prints each problem as a FAIL line; the test's exit status: 1 with any, else 0."""
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


def run(main, doc, argc):
    """Exits with main(*arguments) when the command line has `argc` arguments, else 2 with the
    usage (`doc`, the test's docstring)."""
    if len(sys.argv) != argc + 1:
        print(doc.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
