"""Scenario loading through the module: the command line's loader, its errors, its properties."""
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

import pbxstate
from conftest import BAD_CORPUS, REPO, SCENARIOS, small_scenario

sys.path.insert(0, str(REPO / "tests" / "lib"))
from cli_contract import exit_status  # noqa: E402


def test_load_gives_the_files_values():
    s = pbxstate.Scenario.load(str(SCENARIOS / "lan-3-mystate.yaml"))
    assert s.name == "lan-3-mystate"
    assert s.file == str(SCENARIOS / "lan-3-mystate.yaml")
    assert s.description.startswith("Custom:mystate INUSE on server 1")
    assert (s.seed, s.nodes, s.duration, s.quiet, s.end) == (1, 3, 5.0, 2.0, 7.0)
    assert s.transport == "multicast"
    assert s.faults == []
    assert s.checks == ["lost == 0", "stale == 0", "delivery_latency.max < 50ms", "stable_latency.max < 50ms"]
    assert s.sites == [{"name": None, "nodes": 3, "first_node": 1}]
    assert repr(s) == (f"<pbxstate.Scenario {s.file}: lan-3-mystate, 3 nodes, 5s + 2s quiet, 0 faults, 4 checks>")


def test_load_takes_a_pathlike():
    assert pbxstate.Scenario.load(SCENARIOS / "partition-heal.yaml").name == "partition-heal"


def test_faults_and_sites():
    s = pbxstate.Scenario.load(SCENARIOS / "wan-two-sites.yaml")
    assert [site["name"] for site in s.sites] == ["paris", "lyon"]
    assert [site["first_node"] for site in s.sites] == [1, 5]
    p = pbxstate.Scenario.load(SCENARIOS / "partition-heal.yaml")
    assert [f["fault"].split()[0] for f in p.faults] == ["partition", "heal"]
    assert all(isinstance(f["at"], float) and f["line"] > 0 for f in p.faults)
    assert p.faults[0]["at"] < p.faults[1]["at"]


@pytest.mark.scenario_files("../../scenarios")
def test_every_shipped_scenario_validates(scenario_file):
    s = pbxstate.Scenario.load(scenario_file)
    assert s.name == scenario_file.stem
    assert s.nodes >= 3 and s.duration > 0 and s.checks


def expected_corpus():
    """tests/sim/scenario/bad/EXPECTED: file -> the lines `pbxstate validate` prints for it."""
    out = {}
    for line in (BAD_CORPUS / "EXPECTED").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        out.setdefault(line.split(":", 1)[0], []).append(line)
    return out


CORPUS = expected_corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_corpus_raises_what_the_cli_prints(name, monkeypatch):
    monkeypatch.chdir(BAD_CORPUS)  # the corpus names files relative to its folder
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.load(name)
    e = info.value
    assert str(e).splitlines() == CORPUS[name]
    assert [str(x) for x in e.errors] == CORPUS[name]
    first = e.errors[0]
    assert (e.file, e.line, e.column, e.path, e.message) == \
        (first.file, first.line, first.column, first.path, first.message)
    assert e.file == name


def test_the_corpus_covers_every_bad_file():
    assert sorted(CORPUS) == sorted(p.name for p in BAD_CORPUS.glob("*.yaml"))


def test_error_attributes_are_exact(monkeypatch):
    monkeypatch.chdir(BAD_CORPUS.parent)
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.load("bad/partition-overlap.yaml")
    e = info.value
    assert e.file == "bad/partition-overlap.yaml"
    assert (e.line, e.column) == (6, 29)
    assert e.path == "faults[0].partition[1][0]"
    assert e.message == "node 3 is already listed at faults[0].partition[0][2]; expected each node once"
    assert e.errors == [e]
    assert e.source is None
    assert isinstance(e, ValueError)


def test_several_errors_are_all_reported():
    name, lines = next((n, ls) for n, ls in sorted(CORPUS.items()) if len(ls) > 1)
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.load(BAD_CORPUS / name)
    e = info.value
    assert len(e.errors) == len(lines) > 1
    assert [(x.line, x.column) for x in e.errors] == sorted((x.line, x.column) for x in e.errors)
    assert e.line == e.errors[0].line and e.path == e.errors[0].path


def test_missing_file_has_no_position():
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.load("no/such.yaml")
    e = info.value
    assert str(e).startswith("no/such.yaml: cannot read the file")
    assert (e.file, e.line, e.column, e.path) == ("no/such.yaml", None, None, None)


def test_from_yaml_names_the_text():
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.from_yaml("name: t\nduration: 10s\ncluster: {nodes: 3\n")
    e = info.value
    assert e.file == "<string>"
    assert e.path is None and "YAML syntax" in e.message
    assert e.line == 4 and e.column is not None
    with pytest.raises(pbxstate.ScenarioError, match=r"^mine\.yaml:2:11: duration: "):
        pbxstate.Scenario.from_yaml("name: t\nduration: 10\ncluster: {nodes: 3}\n", file="mine.yaml")


def test_from_dict_loads_like_the_file():
    path = SCENARIOS / "crash-restart.yaml"
    a = pbxstate.Scenario.load(path)
    b = pbxstate.Scenario.from_dict(yaml.safe_load(path.read_text()))
    assert b.file == "<dict>"
    for attr in ("name", "description", "seed", "nodes", "duration", "quiet", "transport", "checks", "sites"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert [f["fault"] for f in a.faults] == [f["fault"] for f in b.faults]


def test_from_dict_errors_point_into_the_generated_yaml():
    d = small_scenario()
    d["workload"]["changes"][0]["node"] = 4
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.from_dict(d)
    e = info.value
    assert e.file == "<dict>"
    assert e.path == "workload.changes[0].node"
    assert e.message == "expected a node number from 1 to 3 (the cluster has 3 nodes), got 4"
    line = e.source.splitlines()[e.line - 1]
    assert line[e.column - 1:].startswith("4") and "node:" in line
    assert str(e) == f"<dict>:{e.line}:{e.column}: workload.changes[0].node: {e.message}"


def test_from_dict_refuses_what_is_not_a_dict_or_not_yaml():
    with pytest.raises(TypeError, match="expected a dict"):
        pbxstate.Scenario.from_dict([1, 2])
    with pytest.raises(TypeError, match="YAML cannot represent"):
        pbxstate.Scenario.from_dict({"name": object()})


def cli():
    """The build tree's `pbxstate` command next to the module, when it was built."""
    exe = pathlib.Path(pbxstate.__file__).resolve().parents[2] / "sim" / "cli" / "pbxstate"
    return exe if exe.exists() else None


@pytest.mark.skipif(cli() is None, reason="the pbxstate command is not built next to the module")
def test_errors_match_the_command_line_for_a_several_error_file(tmp_path):
    bad = tmp_path / "two.yaml"
    bad.write_text("name: two errors\nduration: 10\ncluster: {nodes: 0}\n")
    done = subprocess.run([str(cli()), "validate", str(bad)], capture_output=True, text=True)
    assert done.returncode == exit_status(str(cli())).invalid
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.load(bad)
    assert str(info.value) + "\n" == done.stderr
    assert len(info.value.errors) == len(done.stderr.splitlines()) >= 2


# --- what is not a scenario file: refused with ScenarioError, never read, never a crash ---

def test_what_is_not_a_regular_file_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it would block until a writer came
    with pytest.raises(pbxstate.ScenarioError, match=r"fifo\.yaml: is a FIFO \(named pipe\); expected a scenario file"):
        pbxstate.Scenario.load(fifo)
    with pytest.raises(pbxstate.ScenarioError, match=r"^/dev/zero: is a character device; expected a scenario file"):
        pbxstate.Scenario.load("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_text("name: big\n")
    os.truncate(big, 16 * 2**20 + 1)
    with pytest.raises(pbxstate.ScenarioError,
                       match=r"big\.yaml: is 16777217 bytes; expected a scenario file of at most 16777216 bytes"):
        pbxstate.Scenario.load(big)


def test_text_and_file_names_that_are_not_utf8_are_refused(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"name: t\ndescription: caf\xe9\nduration: 1s\ncluster: {nodes: 2}\n")
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.load(latin1)
    assert (info.value.line, info.value.column, info.value.path) == (2, 17, "description")
    assert "got the byte 0xE9" in info.value.message
    name = os.path.join(os.fsencode(tmp_path), b"caf\xe9.yaml")
    with open(name, "wb") as f:
        f.write(b"name: t\nduration: 1s\ncluster: {nodes: 2}\n")
    with pytest.raises(pbxstate.ScenarioError, match=r"caf\\xE9\.yaml: the file name is not UTF-8"):
        pbxstate.Scenario.load(name)


def test_names_in_any_script_load_and_controls_are_refused():
    text = ("name: t\nduration: 2s\ncluster: {nodes: 2}\nworkload:\n  changes:\n"
            "    - {at: 1s, node: 1, device: 'Custom:caf\u00e9,\"x\"', state: INUSE}\n")
    assert pbxstate.Scenario.from_yaml(text).name == "t"
    with pytest.raises(pbxstate.ScenarioError, match=r"without control characters, got 'Custom:\\x07' \(U\+0007"):
        pbxstate.Scenario.from_yaml(text.replace("caf\u00e9,\"x\"", "\\x07").replace("'Custom", "\"Custom")
                                    .replace("', state", "\", state"))


def test_engine_settings_the_engine_refuses_are_refused_at_load():
    text = "name: t\nduration: 2s\ncluster: {nodes: 2}\nengine: {max_frame_bytes: 300}\n"
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.from_yaml(text)
    assert info.value.path == "engine.max_frame_bytes"
    assert info.value.message.startswith("expected max_frame_bytes of at least 874")
