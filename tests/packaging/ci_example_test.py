#!/usr/bin/python3
"""The CI example (packaging/examples/github-actions-gate.yml) against the pbxstate it is for:
the workflow is valid YAML with the steps it promises, every pbxstate command line in it names
commands and options the command line has, and those commands, run as the workflow runs them on a
project laid out as its header says (scenarios/, baselines/ made by `baseline update`), pass the
gate and leave the files the workflow publishes.

    ci_example_test.py WORKFLOW PBXSTATE CLI_JSON SCENARIO
"""

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml


def command_options(cli, words):
    """(the command path's app, the words after it) for `pbxstate w1 w2 ...`."""
    app = cli
    rest = list(words)
    while rest:
        sub = next((s for s in app["subcommands"] if s["name"] == rest[0]), None)
        if sub is None:
            break
        app, rest = sub, rest[1:]
    return app, rest


def main():
    workflow, pbxstate, cli_json, scenario = sys.argv[1:5]
    failures = []
    with open(workflow, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    with open(cli_json, encoding="utf-8") as f:
        cli = json.load(f)
    steps = doc["jobs"]["gate"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    uploads = [s["with"]["path"] for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    if sorted(uploads) != ["gate/", "gate/junit.xml"]:
        failures.append(f"the workflow publishes {uploads}, expected the JUnit file and the reports folder")

    commands = []
    for block in runs:
        for line in block.splitlines():
            words = shlex.split(line)
            if words and words[0] == "pbxstate":
                commands.append(words[1:])
    if not commands:
        failures.append("no pbxstate command in the workflow")
    for words in commands:
        app, rest = command_options(cli, words)
        if app is cli and rest and not rest[0].startswith("-"):
            failures.append(f"`pbxstate {' '.join(words)}`: no command {rest[0]}")
            continue
        known = {"--" + n for o in app["options"] for n in o["long_names"]}
        for w in rest:
            if w.startswith("--") and w.split("=")[0] not in known:
                failures.append(f"`pbxstate {' '.join(words)}`: {app['path']} has no option {w}")

    # The workflow's commands on a project laid out as it expects: one scenario, its baseline.
    with tempfile.TemporaryDirectory() as project:
        os.makedirs(os.path.join(project, "scenarios"))
        shutil.copy(scenario, os.path.join(project, "scenarios"))
        setup = subprocess.run([pbxstate, "baseline", "update", *glob.glob(os.path.join(project, "scenarios/*.yaml")),
                                "--baseline", "baselines"], cwd=project, capture_output=True, text=True)
        if setup.returncode != 0:
            failures.append(f"baseline update (the header's setup step) failed: {setup.stderr.strip()}")
        for words in commands:
            if words[:1] == ["--version"]:
                continue
            argv = []
            for w in words:
                argv += sorted(glob.glob(os.path.join(project, w))) if "*" in w else [w]
            r = subprocess.run([pbxstate, *argv], cwd=project, capture_output=True, text=True)
            if r.returncode != 0:
                failures.append(f"`pbxstate {' '.join(words)}` exited {r.returncode}: {r.stderr.strip()[-500:]}")
        for published in ("gate/junit.xml", "gate/index.html"):
            if not os.path.isfile(os.path.join(project, published)):
                failures.append(f"the gate left no {published} to publish")
        if not glob.glob(os.path.join(project, "gate/*/report.html")):
            failures.append("the gate left no report.html to publish")

    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    if failures:
        return 1
    print(f"the CI example's {len(commands)} pbxstate commands exist and pass on a sample project")
    return 0


if __name__ == "__main__":
    sys.exit(main())
