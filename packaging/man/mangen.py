#!/usr/bin/python3
"""Writes a man page from its template (packaging/man/<name>.<section>.md).

A template is Markdown ('#' headings are .SH, '##' .SS) with directives, each an HTML comment
alone on its line, that pull in the parts which must not drift from their one source:

    <!-- cli name -->              NAME line from the first line of `pbxstate describe-cli`'s description
    <!-- cli synopsis -->          one usage line per command, as --help prints them
    <!-- cli description -->       the rest of the top-level description
    <!-- cli options -->           the top-level options
    <!-- cli commands -->          every command: usage, description, options (as --help words them)
    <!-- help synopsis -->         the usage line of a hand-parsed --help text (--help-text FILE)
    <!-- help options -->          its option lines
    <!-- include FILE -->          a whole Markdown document (its '#' title dropped, '##' as .SH)
    <!-- include FILE#HEADING -->  one section of a Markdown document, its subsections as .SS
    <!-- settings SOURCE -->       every setting of a settings source (settings.py), per section
    <!-- settings-header SOURCE --> the source's leading comment, as a paragraph

FILE paths are relative to --source-dir (the repository). @NAME@ in the template is replaced by
--define NAME=VALUE (install paths). The output is plain ASCII roff.
"""

import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import roff  # noqa: E402
import settings  # noqa: E402


class Page:
    def __init__(self, args):
        self.args = args
        self.cli = None
        if args.cli_json:
            with open(args.cli_json, encoding="utf-8") as f:
                self.cli = json.load(f)
        self.help_text = None
        if args.help_text:
            with open(args.help_text, encoding="utf-8") as f:
                self.help_text = f.read().splitlines()

    def need_cli(self):
        if self.cli is None:
            raise SystemExit(f"mangen: {self.args.template} uses 'cli' directives: pass --cli-json")
        return self.cli

    def source_lines(self, relative):
        with open(os.path.join(self.args.source_dir, relative), encoding="utf-8") as f:
            return f.read().splitlines()

    # --- the command line (pbxstate describe-cli) ---

    @staticmethod
    def usage(app):
        return re.sub(r"^Usage:\s*", "", app["usage"])

    @staticmethod
    def options(app):
        out = []
        for opt in app["options"]:
            tag = roff.literal(opt["name"]) if not opt["positional"] else r"\fI" + roff.literal(opt["name"]) + r"\fR"
            out += [".TP", r"\fB" + tag + r"\fR" + roff.literal(opt["value_text"])]
            out.append(roff.line_out(roff.escape(opt["description"])) if opt["description"] else r"\&")
        return out

    @staticmethod
    def description_lines(text):
        out = [".PP"]
        for line in text.splitlines():
            out.append(roff.line_out(roff.escape(line)) if line.strip() else ".PP")
        return out

    def leaves(self, app):
        if not app["subcommands"]:
            return [app]
        found = []
        for sub in app["subcommands"]:
            found += self.leaves(sub)
        return found

    def commands(self, app):
        out = []
        for sub in app["subcommands"]:
            out += [".SS " + roff.literal(sub["path"])]
            out += [".nf", r"\fB" + roff.literal(self.usage(sub)) + r"\fR", ".fi"]
            if sub["description"]:
                out += self.description_lines(sub["description"])
            if sub["options"]:
                out += self.options(sub)
            if sub["footer"]:
                out += self.description_lines(sub["footer"])
            out += self.commands(sub)
        return out

    def cli_directive(self, what):
        cli = self.need_cli()
        first, _, rest = cli["description"].partition("\n")
        if what == "name":
            summary = re.sub(r"^pbxstate:\s*", "", first).rstrip(".")
            return ["pbxstate \\- " + roff.escape(summary)]
        if what == "synopsis":
            out = [".nf"]
            out += [r"\fB" + roff.literal(self.usage(leaf)) + r"\fR" for leaf in self.leaves(cli)]
            return out + [".fi"]
        if what == "description":
            return self.description_lines(rest) if rest.strip() else []
        if what == "options":
            return self.options(cli)
        if what == "commands":
            return self.commands(cli)
        raise SystemExit(f"mangen: unknown directive 'cli {what}'")

    # --- a program with a hand-written --help (pbxstated) ---

    def help_directive(self, what):
        if self.help_text is None:
            raise SystemExit(f"mangen: {self.args.template} uses 'help' directives: pass --help-text")
        if what == "synopsis":
            usage = [l for l in self.help_text if l.lower().startswith("usage:")]
            if not usage:
                raise SystemExit("mangen: no 'usage:' line in the --help text")
            return [".nf", r"\fB" + roff.literal(re.sub(r"^usage:\s*", "", usage[0], flags=re.I)) + r"\fR", ".fi"]
        if what == "options":
            out = []
            for line in self.help_text:
                m = re.match(r"^\s+(-\S.*?)\s{2,}(\S.*)$", line)
                if m:
                    out += [".TP", r"\fB" + roff.literal(m.group(1)) + r"\fR", roff.line_out(roff.escape(m.group(2)))]
            if not out:
                raise SystemExit("mangen: no option lines ('  -x, --xx  text') in the --help text")
            return out
        raise SystemExit(f"mangen: unknown directive 'help {what}'")

    # --- Markdown documents of the repository ---

    def include(self, target):
        path, _, heading = target.partition("#")
        lines = self.source_lines(path)
        if not heading:
            if lines and lines[0].startswith("# "):
                lines = lines[1:]
            return roff.Converter(level_offset=2).convert(lines)  # its '##' are the page's .SH
        try:
            body = roff.section_of(lines, heading)
        except KeyError:
            raise SystemExit(f"mangen: {path} has no heading '{heading}'")
        level = next(l for l, text in roff.headings(lines) if text == heading)
        return roff.Converter(level_offset=level).convert(body)

    # --- settings ---

    def settings_of(self, source):
        name, _, path = source.partition(" ")
        if name not in settings.SOURCES or not path:
            raise SystemExit(f"mangen: settings source must be one of {sorted(settings.SOURCES)} and a file")
        return settings.SOURCES[name](os.path.join(self.args.source_dir, path))

    def settings_directive(self, source):
        _, entries = self.settings_of(source)
        out, section, last_doc = [], None, None
        for e in entries:
            if e["section"] != section:
                section = e["section"]
                out.append(".SS " + (roff.literal(section) if section else "top level"))
                last_doc = None
            tag = r"\fB" + roff.literal(e["key"]) + r"\fR"
            if e["value"]:
                tag += " = " + roff.literal(e["value"]) if source.startswith("asterisk") \
                    else ": " + roff.literal(e["value"])
            if last_doc is not None and e["doc"] == last_doc and e["doc"]:
                # Options that share one comment in the sample share one paragraph here.
                doc_line = out.pop()
                out += [".TQ", tag, doc_line]
                continue
            out += [".TP", tag, roff.line_out(roff.inline(e["doc"])) if e["doc"] else r"\&"]
            last_doc = e["doc"]
        return out

    def settings_header(self, source):
        header, _ = self.settings_of(source)
        return roff.Converter(level_offset=1).convert(header)

    # --- the page ---

    def render(self):
        name, section = re.match(r"^(.+)\.(\d)\.md$", os.path.basename(self.args.template)).groups()
        with open(self.args.template, encoding="utf-8") as f:
            text = f.read()
        for d in self.args.define:
            key, _, value = d.partition("=")
            text = text.replace("@" + key + "@", value)
        if re.search(r"@[A-Z_]+@", text):
            raise SystemExit(f"mangen: {self.args.template}: undefined {re.search(r'@[A-Z_]+@', text).group(0)}")
        date = ""
        if os.environ.get("SOURCE_DATE_EPOCH"):
            date = time.strftime("%Y-%m-%d", time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"])))
        out = [
            r'.\" Generated by packaging/man/mangen.py from packaging/man/' + os.path.basename(self.args.template)
            + "; edit that (or the sources it names), not this.",
            '.TH "%s" "%s" "%s" "pbxstate %s" "pbxstate manual"' % (roff.escape(name.upper()), section, date,
                                                                    self.args.version),
        ]
        chunk = []
        converter = roff.Converter(level_offset=1)  # the template's '#' are .SH

        def flush():
            out.extend(converter.convert(chunk))
            chunk.clear()

        in_name = False
        for line in text.splitlines():
            m = re.match(r"^<!--\s*([\w-]+)\s+(.*?)\s*-->$", line.strip())
            if m:
                flush()
                in_name = False
                kind, arg = m.groups()
                if kind == "cli":
                    out.extend(self.cli_directive(arg))
                elif kind == "help":
                    out.extend(self.help_directive(arg))
                elif kind == "include":
                    out.extend(self.include(arg))
                elif kind == "settings":
                    out.extend(self.settings_directive(arg))
                elif kind == "settings-header":
                    out.extend(self.settings_header(arg))
                else:
                    raise SystemExit(f"mangen: unknown directive '{kind}'")
                continue
            if re.match(r"^#\s+NAME\s*$", line):
                flush()
                out.append(".SH NAME")
                in_name = True
                continue
            if in_name and line.strip() and not line.startswith("#"):
                # "name - what it is": the whatis line, with roff's minus sign.
                out.append(roff.escape(line.strip()).replace(" - ", r" \- ", 1))
                in_name = False
                continue
            if line.startswith("#"):
                in_name = False
            chunk.append(line)
        flush()
        return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--template", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--source-dir", required=True, help="the repository")
    p.add_argument("--version", required=True)
    p.add_argument("--cli-json", help="output of `pbxstate describe-cli`")
    p.add_argument("--help-text", help="--help output of the program the page describes")
    p.add_argument("--define", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args()
    page = Page(args).render()
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(page)
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
