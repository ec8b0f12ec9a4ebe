#!/usr/bin/env python3
"""Checks connreset JSON lines against docs/schema/connreset-line.schema.json.

    check_schema.py SCHEMA FILE [--require TYPE,...]

Every non-empty line of FILE must be one JSON object valid under SCHEMA;
--require names line types that must occur at least once. Prints one line
per problem (line number, where in the object, why) and exits 1 on any.
Uses python3-jsonschema (Debian package), installed by scripts/lib.sh.
"""
import argparse
import json
import sys

import jsonschema


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("schema")
    ap.add_argument("file")
    ap.add_argument("--require", default="", help="comma-separated line types that must occur")
    args = ap.parse_args()
    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    problems, seen = [], {}
    with open(args.file, encoding="utf-8", errors="strict") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{args.file}:{n}: not JSON: {e}")
                continue
            seen[obj.get("type")] = seen.get(obj.get("type"), 0) + 1
            for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
                where = "/".join(str(p) for p in err.absolute_path) or "(top)"
                problems.append(f"{args.file}:{n}: {obj.get('type')}: {where}: {err.message}")
    for t in filter(None, args.require.split(",")):
        if not seen.get(t):
            problems.append(f"{args.file}: no line of type {t!r} (saw {seen})")
    for p in problems[:50]:
        print(p)
    if not problems:
        print(f"{args.file}: {sum(seen.values())} lines valid ({', '.join(f'{k} {v}' for k, v in sorted(seen.items()))})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
