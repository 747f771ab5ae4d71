"""pybind/README.md's pytest example, run as written (the shipped scenarios, through the plugin)."""
import re

import pbxstate
import pytest
from conftest import REPO, SCENARIOS


def readme_example():
    text = (REPO / "pybind" / "README.md").read_text()
    section = text[text.index("\n## pytest"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.skipif(not pbxstate.HAVE_NS3, reason="module built without ns-3")
def test_readme_pytest_example(pytester):
    # The example names its folder relative to a test file two levels below the scenarios. The
    # folder holds the quick shipped scenarios (CTest runs them all; this checks the example).
    folder = pytester.path / "scenarios"
    folder.mkdir()
    quick = ["crash-restart", "glomers-25", "lan-3-mystate", "large-1000", "wan-two-sites"]
    for stem in quick:
        (folder / f"{stem}.yaml").symlink_to(SCENARIOS / f"{stem}.yaml")
    tests = pytester.path / "tests" / "python"
    tests.mkdir(parents=True)
    (tests / "test_example.py").write_text(readme_example())
    result = pytester.runpytest("-p", "pbxstate_pytest", str(tests), "-v")
    result.assert_outcomes(passed=1 + len(quick) - 1)  # large-1000 is excluded by the example
    result.stdout.fnmatch_lines(["*test_mystate PASSED*", "*test_shipped_scenarios_pass?crash-restart? PASSED*"])
