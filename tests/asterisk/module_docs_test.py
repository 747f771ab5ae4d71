#!/usr/bin/python3
"""res_pbxstate's XML documentation (asterisk/module_docs.cmake) as Asterisk reads it.

    module_docs_test.py --docs pbxstate-en_US.xml --dtd <astdatadir>/documentation/appdocsxml.dtd
                        --sources asterisk/*.c

Passes when the file is valid against that Asterisk's appdocsxml.dtd (xmllint, as Asterisk's
own build checks core-en_US.xml) and documents every dialplan function the module's sources
register (`struct ast_custom_function` with `.name = "..."`), and nothing else. Exit 0, 1 on a
failure (what is wrong), 77 when the Asterisk has no DTD installed (skipped, saying where it looked).
"""
import argparse
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

FUNCTION_NAME = re.compile(r'struct ast_custom_function\s+\w+\s*=\s*\{[^}]*?\.name\s*=\s*"([^"]+)"', re.S)


def registered_functions(sources):
    names = set()
    for path in sources:
        with open(path, encoding="utf-8") as f:
            names.update(FUNCTION_NAME.findall(f.read()))
    return names


def documented_functions(docs):
    return {f.get("name") for f in ElementTree.parse(docs).getroot().iter("function")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--dtd", required=True)
    ap.add_argument("--sources", nargs="+", required=True)
    args = ap.parse_args()
    if not os.path.exists(args.dtd):
        print(f"SKIP: no {args.dtd}: that Asterisk installed no XML documentation")
        return 77
    check = subprocess.run(["xmllint", "--noout", "--dtdvalid", args.dtd, args.docs],
                           capture_output=True, text=True)
    if check.returncode != 0:
        print(f"{args.docs}: not valid against {args.dtd}:\n{check.stderr}")
        return 1
    registered = registered_functions(args.sources)
    if not registered:
        print(f"no `struct ast_custom_function` with a .name in {' '.join(args.sources)}: the pattern is stale")
        return 1
    documented = documented_functions(args.docs)
    if registered != documented:
        print(f"{args.docs}: documents {sorted(documented)}; the module registers {sorted(registered)}")
        return 1
    print(f"{args.docs}: valid, documents {sorted(documented)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
