"""Markdown to man(7) roff, for the subset of Markdown the project's documents use.

Headings, paragraphs, fenced code blocks, pipe tables, "- " lists, definition lists (a term
line, then ": definition"), inline `code`, **bold**, *emphasis* and [links](target). A table becomes a list of tagged paragraphs (.TP), the first
column as the tag: man pages are read on 80-column terminals where wide tables do not fit.

Everything written is plain ASCII roff: characters outside ASCII become groff escapes, so
`groff -ww -z` reads the page without warnings and without a preprocessor.
"""

import re

# Non-ASCII characters the sources use, as groff special characters; anything else becomes
# \[uXXXX].
SPECIAL = {
    "\u00b5": r"\(mc", "\u00b1": r"\(+-", "\u2192": r"\(->", "\u2190": r"\(<-", "\u00d7": r"\(mu",
    "\u2264": r"\(<=", "\u2265": r"\(>=", "\u2013": r"\(en", "\u2014": r"\(em", "\u2026": "...",
    "\u2018": r"\(oq", "\u2019": r"\(cq", "\u201c": r"\(lq", "\u201d": r"\(rq", "\u00a0": r"\~",
}


def escape(text):
    """Text for a roff line: backslashes escaped, non-ASCII as groff escapes."""
    out = []
    for ch in text.replace("\\", r"\e"):
        if ord(ch) < 128:
            out.append(ch)
        else:
            out.append(SPECIAL.get(ch, r"\[u%04X]" % ord(ch)))
    return "".join(out)


def literal(text):
    """Text shown as typed (commands, options, file names): ASCII hyphen-minus kept as such."""
    return escape(text).replace("-", r"\-")


def inline(text):
    """One line of Markdown prose as roff: `code` bold, **bold** bold, *em* italic, links as text."""
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", lambda m: m.group(1), text)
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            out.append(r"\fB" + literal(part[1:-1]) + r"\fR")
            continue
        part = escape(part)
        part = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", part)
        part = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", part)
        out.append(part)
    return "".join(out)


def line_out(text):
    """A text line that roff must not read as a request (leading '.' or "'") or as a break
    (leading space)."""
    text = text.lstrip()
    if text.startswith(".") or text.startswith("'"):
        return r"\&" + text
    return text


def split_row(row):
    """Cells of a pipe-table row; `|` inside backticks belongs to the cell."""
    cells, cell, in_code = [], [], False
    body = row.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|"):
        body = body[:-1]
    for ch in body:
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(ch)
    cells.append("".join(cell).strip())
    return cells


def table(rows):
    """A Markdown table as tagged paragraphs: the first cell is the tag, the others follow as
    'header: value' (a two-column table gives just the value); empty cells are left out."""
    header = split_row(rows[0])
    out = []
    for row in rows[2:]:
        cells = split_row(row)
        out.append(".TP")
        out.append(line_out(inline(cells[0])))
        if len(header) == 2:
            body = [inline(c) for c in cells[1:] if c]
        else:
            body = [inline(header[i]) + ": " + inline(c) for i, c in enumerate(cells) if i > 0 and c and i < len(header)]
        out.append(line_out("; ".join(body) if body else r"\&"))
    return out


class Converter:
    """Turns Markdown lines into roff lines. `level_offset` is the Markdown heading level that
    becomes .SH (headings above it too); one level deeper is .SS, deeper still a bold paragraph."""

    def __init__(self, level_offset=1):
        self.level_offset = level_offset

    def heading(self, level, text):
        level -= self.level_offset
        if level <= 0:
            return [".SH " + escape(text.upper())]
        if level == 1:
            return [".SS " + inline(text)]
        return [".PP", r"\fB" + inline(text) + r"\fR"]

    def convert(self, lines):
        out = []
        i = 0
        para = False
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                para = False
                i += 1
                continue
            m = re.match(r"^(#{1,6})\s+(.*)$", line)
            if m:
                out += self.heading(len(m.group(1)), m.group(2).strip())
                para = False
                i += 1
                continue
            if stripped.startswith("```"):
                i += 1
                code = []
                while i < len(lines) and not lines[i].strip().startswith("```"):
                    code.append(lines[i].rstrip())
                    i += 1
                i += 1
                out += [".PP", ".RS 4", ".nf"]
                out += [r"\&" + literal(c) if c else "" for c in code]
                out += [".fi", ".RE"]
                para = False
                continue
            if stripped.startswith("|") and i + 1 < len(lines) and re.match(r"^\s*\|[\s:|-]+\|\s*$", lines[i + 1]):
                rows = []
                while i < len(lines) and lines[i].strip().startswith("|"):
                    rows.append(lines[i])
                    i += 1
                out += table(rows)
                para = False
                continue
            if i + 1 < len(lines) and lines[i + 1].startswith(": "):
                # A definition list (term, then ": definition" and lines indented under it).
                out += [".TP", line_out(inline(stripped))]
                i += 1
                body = [lines[i][2:]]
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                    body.append(lines[i])
                    i += 1
                out += [line_out(inline(t)) for t in body]
                para = True
                continue
            if re.match(r"^\s*[-*] ", line):
                item = [re.sub(r"^\s*[-*] ", "", line)]
                i += 1
                while i < len(lines) and lines[i].strip() and not re.match(r"^\s*[-*] ", lines[i]) \
                        and lines[i].startswith(" "):
                    item.append(lines[i])
                    i += 1
                out.append(r".IP \(bu 2")
                out += [line_out(inline(t)) for t in item]
                para = True
                continue
            if not para:
                out.append(".PP")
                para = True
            out.append(line_out(inline(line)))
            i += 1
        return out


def section_of(markdown_lines, heading):
    """The lines under the heading named `heading` (any level), up to the next heading of the
    same or a higher level. Raises KeyError when there is no such heading."""
    start = level = None
    in_code = False
    for n, line in enumerate(markdown_lines):
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if not m or in_code:
            continue
        if start is None and m.group(2) == heading:
            start, level = n + 1, len(m.group(1))
        elif start is not None and len(m.group(1)) <= level:
            return markdown_lines[start:n]
    if start is None:
        raise KeyError(heading)
    return markdown_lines[start:]


def headings(markdown_lines):
    """(level, text) of every heading outside code blocks."""
    out, in_code = [], False
    for line in markdown_lines:
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if m and not in_code:
            out.append((len(m.group(1)), m.group(2)))
    return out
