"""The one place the configuration man pages take their settings from.

pbxstated.conf(5) lists the settings of `daemon/pbxstated.example.yaml` (every key with its
default and a comment, checked against the daemon by tests/packaging) and pbxstate.conf(5) those
of `asterisk/pbxstate.conf.sample` (every option with its comment). The engine settings of both
files are generated from the table of engine settings (engine/include/pbxstate/engine_settings.h)
by a test each, with the host's defaults (tests/daemon/daemon_config_settings_test.cc,
tests/asterisk/sample_settings_test.cc), so the pages follow the table through the samples.

A setting is a dict: section ("" for top-level keys), key, value (as written in the sample), doc.
"""

import re


def daemon_settings(path):
    """(header lines, settings) of a commented pbxstated YAML file laid out like the example:
    comment lines before a key document it, as does a comment after its value."""
    header, settings, pending = [], [], []
    section = ""
    seen_key = False
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip():
                if not seen_key and pending:
                    header += pending + [""]
                pending = []
                continue
            m = re.match(r"^(\s*)#\s?(.*)$", line)
            if m:
                pending.append(m.group(2))
                continue
            m = re.match(r"^(\w+):\s*$", line)
            if m:
                section = m.group(1)
                seen_key = True
                pending = []
                continue
            m = re.match(r"^(\s*)(\w+):\s*(\"[^\"]*\"|[^#]*?)\s*(?:#\s?(.*))?$", line)
            if not m:
                raise ValueError(f"{path}: cannot read the line {line!r}")
            if not m.group(1):
                section = ""
            seen_key = True
            doc = pending + ([m.group(4)] if m.group(4) else [])
            settings.append({"section": section, "key": m.group(2), "value": m.group(3), "doc": " ".join(doc)})
            pending = []
    return header, settings


def asterisk_settings(path):
    """(header lines, settings) of an Asterisk-style sample: `; text` lines document the
    `;option = value` lines right after them (options in a row share one comment)."""
    header, settings, pending, doc = [], [], [], []
    section = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            m = re.match(r"^\[(\w+)\]\s*$", line)
            if m:
                if section is None:
                    header = pending
                section, pending, doc = m.group(1), [], []
                continue
            if re.match(r"^;\s*engine-settings:(begin|end)\b", line):
                pending, doc = [], []   # the generated block's markers document nothing
                continue
            m = re.match(r"^;(\w+)\s*=\s*(.*?)\s*$", line)
            if m:
                if pending:
                    doc, pending = pending, []
                settings.append({"section": section or "", "key": m.group(1), "value": m.group(2),
                                 "doc": " ".join(doc)})
                continue
            m = re.match(r"^;\s?(.*)$", line)
            if m:
                pending.append(m.group(1))
                continue
            if line.strip():
                raise ValueError(f"{path}: cannot read the line {line!r}")
            if section is not None:
                pending, doc = [], []
    while header and not header[0].strip():  # the sample's frame: a lone ';' above and below
        header.pop(0)
    while header and not header[-1].strip():
        header.pop()
    return header, settings


SOURCES = {"daemon": daemon_settings, "asterisk": asterisk_settings}
