"""pytest plugin for pbxstate: fixtures for clusters and scenario runs, and parametrizing a test
over the scenario files of a folder.

Enable it in a conftest.py with ``pytest_plugins = ["pbxstate_pytest"]``, or on the command line
with ``-p pbxstate_pytest``. The module ``pbxstate`` and this file must be importable (the build
tree's ``pybind/python`` folder, or where ``cmake --install`` put them).

Fixtures
    pbxstate_cluster
        A ``pbxstate.Cluster`` (3 nodes, seed 1 unless the test's
        ``@pytest.mark.pbxstate_cluster(nodes=..., seed=..., network=..., ...)`` says otherwise: its
        keyword arguments go to ``pbxstate.Cluster``, e.g. ``engine={"relays_per_site": 1,
        "node_sites": "1-2:0, 3-4:1"}``). Closed after the test.
    scenario_run
        A function ``scenario_run(scenario, seed=None, report=False, check=False)`` that runs a
        scenario (a ``pbxstate.Scenario``, a path, or a dict for ``Scenario.from_dict``) and returns
        the ``pbxstate.Run``. The run record goes to a folder of the test's own (under ``tmp_path``,
        or under ``--pbxstate-out DIR`` when given, to keep it); ``report=True`` also draws
        report.html there; ``check=True`` fails the test, listing the failed checks, when a check
        of the scenario fails.
    scenario_file
        With ``@pytest.mark.scenario_files(folder, exclude=(...))``: the test runs once per
        ``*.yaml`` file in ``folder`` (relative to pytest's rootdir), with ``scenario_file`` a
        ``pathlib.Path``; test ids are the file stems. A folder without scenario files is a
        collection error, never a silent pass. ``scenario_files(folder)`` gives the same cases as
        ``pytest.param`` values for ``@pytest.mark.parametrize``.
"""

import pathlib
import re

import pytest

import pbxstate

__all__ = ["scenario_files", "failed_checks"]


def scenario_files(folder, exclude=(), base=None):
    """One ``pytest.param(path, id=stem)`` per ``*.yaml`` file in ``folder``, sorted by name.

    A relative ``folder`` is taken from ``base`` (default: the current directory). ``exclude``
    names stems to leave out. Raises ValueError when no file is left: parametrizing over nothing
    would let a test pass without running.
    """
    path = pathlib.Path(folder)
    if not path.is_absolute() and base is not None:
        path = pathlib.Path(base) / path
    files = sorted(p for p in path.glob("*.yaml") if p.stem not in set(exclude))
    if not files:
        raise ValueError(f"scenario_files: no scenario files (*.yaml) in {path}")
    return [pytest.param(p, id=p.stem) for p in files]


def failed_checks(run):
    """A readable list of a run's failed checks, one per line; empty when every check passed."""
    lines = []
    for check in run.checks:
        if not check.passed and check.not_applicable is None:  # not applicable: neither passed nor failed
            observed = "not measured" if not check.measured else repr(check.observed)
            lines.append(f"FAIL {check.text} (observed {observed})")
    return "\n".join(lines)


def pytest_addoption(parser):
    group = parser.getgroup("pbxstate")
    group.addoption("--pbxstate-out", metavar="DIR", default=None,
                    help="keep the run records of scenario_run under DIR/<test name> (default: tmp_path)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "pbxstate_cluster(**kwargs): arguments for the pbxstate_cluster fixture's pbxstate.Cluster")
    config.addinivalue_line(
        "markers", "scenario_files(folder, exclude=()): run the test once per *.yaml in folder, as scenario_file")


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("scenario_files")
    if marker is None:
        return
    if "scenario_file" not in metafunc.fixturenames:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @scenario_files needs a 'scenario_file' argument")
    if len(marker.args) != 1:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @scenario_files takes one folder")
    params = scenario_files(marker.args[0], exclude=marker.kwargs.get("exclude", ()),
                            base=metafunc.definition.path.parent)
    metafunc.parametrize("scenario_file", params)


@pytest.fixture
def pbxstate_cluster(request):
    marker = request.node.get_closest_marker("pbxstate_cluster")
    kwargs = dict(marker.kwargs) if marker is not None else {}
    with pbxstate.Cluster(**kwargs) as cluster:
        yield cluster


def _safe_name(nodeid):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


@pytest.fixture
def scenario_run(request, tmp_path):
    keep = request.config.getoption("--pbxstate-out")
    base = pathlib.Path(keep) / _safe_name(request.node.nodeid) if keep else tmp_path / "runs"
    count = 0

    def run(scenario, seed=None, report=False, check=False):
        nonlocal count
        if isinstance(scenario, dict):
            scenario = pbxstate.Scenario.from_dict(scenario)
        elif not isinstance(scenario, pbxstate.Scenario):
            scenario = pbxstate.Scenario.load(scenario)
        count += 1
        out = base / f"{count:02d}-{scenario.name}"
        result = scenario.run(seed=seed, out=out)
        if report:
            result.write_report(out)
        if check and not result.passed:
            pytest.fail(f"{scenario.name} (seed {result.seed}): checks failed, record in {out}\n"
                        + failed_checks(result), pytrace=False)
        return result

    return run
