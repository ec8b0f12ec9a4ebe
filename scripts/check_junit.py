#!/usr/bin/env python3
"""Checks the dogfood run of scripts/test.sh: the JUnit file `connreset run --junit` wrote is
well-formed and holds the e2e scenario's reset as a failure, and the run's own JSON summary
(from `run --json` on stderr) says the command itself passed.

    check_junit.py JUNIT_XML RUN_LOG
"""
import json
import sys
import xml.etree.ElementTree as ET


def main(junit_path, log_path):
    root = ET.parse(junit_path).getroot()  # raises on malformed XML
    problems = []
    if root.tag != "testsuites":
        problems.append(f"root element is <{root.tag}>, not <testsuites>")
    cases = root.findall("./testsuite/testcase")
    failures = [c.find("failure") for c in cases if c.find("failure") is not None]
    types = sorted({f.get("type") for f in failures})
    if "unread_data_at_close" not in types:
        problems.append(f"no failure of type unread_data_at_close (failure types: {types})")
    if root.get("failures") != str(len(failures)) or root.get("tests") != str(len(cases)):
        problems.append(f"counts: tests={root.get('tests')} failures={root.get('failures')}, "
                        f"but {len(cases)} cases with {len(failures)} failures")
    for f in failures:
        if "20,000 unread bytes" not in (f.text or ""):
            problems.append("a failure lacks the explanation (\"20,000 unread bytes\")")
    summary = None
    with open(log_path, errors="replace") as log:
        for line in log:
            if line.startswith('{"') and '"type":"run"' in line:
                summary = json.loads(line)
    if summary is None:
        problems.append("no run summary line in the log")
    elif summary.get("exit_code") != 0:
        problems.append(f"the e2e scenario itself failed (exit {summary.get('exit_code')})")
    for p in problems:
        print(f"check_junit: {junit_path}: {p}", file=sys.stderr)
    if not problems:
        print(f"check_junit: {junit_path}: {len(cases)} test case(s), failures {types}: ok", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
