#!/usr/bin/python3
"""The repository stands on its own: no file refers to a path outside it, and its Markdown links
lead to files, folders and headings that exist.

    docs_check.py outside ROOT   every file under ROOT (git's list when ROOT is a git checkout,
                                 else the tree without build folders) is searched, as bytes, for
                                 the markers of paths outside the repository
    docs_check.py links ROOT     every Markdown link of every *.md file to a file must name a file
                                 or folder inside ROOT, and its #anchor a heading of that file; in
                                 docs/ARCHITECTURE.md, every `path` in backticks that starts with
                                 a top-level folder of ROOT must exist too

Exit 0 when everything holds, 1 with one line per finding otherwise, 2 on a usage error.
"""
import os
import re
import subprocess
import sys

# Paths outside the repository that files of it once named. Built from pieces so that this file
# does not match what it looks for.
OUTSIDE_MARKERS = [b"../" + b"shared", b"/" + b"work/"]
ARCHITECTURE = "docs/ARCHITECTURE.md"
# Folders a tree walk skips (they hold build products, never sources).
SKIPPED_DIRS = {".git", "out", "__pycache__"}
LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
PATH_TOKEN = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*$")


def repo_files(root):
    """Paths relative to root: git's tracked and untracked-but-not-ignored files, or a tree walk."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             check=True, capture_output=True, timeout=60).stdout
        names = [n.decode("utf-8", "surrogateescape") for n in out.split(b"\0") if n]
        return sorted(n for n in names if os.path.isfile(os.path.join(root, n)))
    except (OSError, subprocess.SubprocessError):
        pass
    found = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("build")]
        found.extend(os.path.relpath(os.path.join(top, f), root) for f in files)
    return sorted(found)


def strip_fences(text):
    """Markdown without its fenced code blocks (their brackets are code, not links)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            kept.append("")
            continue
        kept.append("" if fenced else line)
    return "\n".join(kept)


def inside(root, path):
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root + os.sep)


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    with open(path, encoding="utf-8") as f:
        text = strip_fences(f.read())
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)}


def check_outside(root):
    findings = []
    for rel in repo_files(root):
        path = os.path.join(root, rel)
        with open(path, "rb") as f:
            data = f.read()
        for marker in OUTSIDE_MARKERS:
            at = data.find(marker)
            if at >= 0:
                line = data.count(b"\n", 0, at) + 1
                findings.append(f"{rel}:{line}: refers to a path outside the repository "
                                f"({marker.decode()}...)")
    return findings


def check_file_links(root, rel, findings):
    """Appends a finding for every link of Markdown file `rel` that is broken; returns how many
    links to files it has."""
    doc = os.path.join(root, rel)
    with open(doc, encoding="utf-8") as f:
        text = strip_fences(f.read())
    links = 0
    for m in LINK.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        target, _, anchor = m.group(1).partition("#")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue
        links += 1
        path = os.path.normpath(os.path.join(os.path.dirname(doc), target)) if target else doc
        if not inside(root, path):
            findings.append(f"{rel}:{line}: link {m.group(1)} leads outside the repository")
        elif not os.path.exists(path):
            findings.append(f"{rel}:{line}: link {m.group(1)}: no such file in the repository")
        elif anchor and path.endswith(".md") and anchor not in anchors(path):
            findings.append(f"{rel}:{line}: link {m.group(1)}: no heading #{anchor} in "
                            f"{os.path.relpath(path, root)}")
    return links


def check_links(root):
    if not os.path.isfile(os.path.join(root, ARCHITECTURE)):
        return [f"{ARCHITECTURE}: missing"]
    files = repo_files(root)
    findings = []
    for rel in files:
        if rel.endswith(".md") and rel != ARCHITECTURE:
            check_file_links(root, rel, findings)
    if check_file_links(root, ARCHITECTURE, findings) == 0:
        findings.append(f"{ARCHITECTURE}: no links found (the check would prove nothing)")
    with open(os.path.join(root, ARCHITECTURE), encoding="utf-8") as f:
        text = strip_fences(f.read())
    # Top-level folders of the repository's own files (never a build or output folder).
    top_dirs = {rel.split("/", 1)[0] for rel in files if "/" in rel}
    for m in CODE_SPAN.finditer(text):
        token = m.group(1)
        first = token.split("/", 1)[0]
        if "/" not in token or not PATH_TOKEN.match(token) or first not in top_dirs:
            continue
        if not os.path.exists(os.path.join(root, token)):
            line = text.count("\n", 0, m.start()) + 1
            findings.append(f"{ARCHITECTURE}:{line}: `{token}`: no such file or folder in the repository")
    return findings


def main(argv):
    if len(argv) != 3 or argv[1] not in ("outside", "links") or not os.path.isdir(argv[2]):
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[2]
    findings = check_outside(root) if argv[1] == "outside" else check_links(root)
    for f in findings:
        print(f)
    if findings:
        print(f"docs_check {argv[1]}: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
