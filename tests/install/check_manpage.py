#!/usr/bin/env python3
"""Keeps docs/connreset.8 honest against the binary it documents.

    check_manpage.py CONNRESET_BINARY MANPAGE

Reads `connreset --help` and `connreset CMD --help` (never a list kept here) and checks that
- every subcommand has its `.SS CMD` section;
- every option of CMD's --help appears in that section, in TRACING OPTIONS (if the section
  says those apply) or in GENERAL OPTIONS (-h/--help);
- the exit status of a few command line errors is listed under EXIT STATUS;
- groff formats the page without warnings.
Cause ids are checked by the unit test ManPage.* (it iterates the cause catalog).
Each failure names what is missing and where in the man page it goes.
"""
import re
import subprocess
import sys


def man_sections(path):
    """{'SH NAME' or 'SS name': plain text} with troff escapes removed."""
    sections, key = {}, "preamble"
    for line in open(path, encoding="utf-8"):
        if line.startswith('.\\"'):
            continue
        m = re.match(r'^\.(SH|SS)\s+"?([^"\n]*)"?', line)
        if m:
            key = f"{m.group(1)} {m.group(2).strip()}"
            sections[key] = ""
            continue
        text = line.replace("\\-", "-")
        text = re.sub(r"\\f[BIRP]", "", text)
        text = re.sub(r"^\.(B|I|BR|BI|IR|RB|RI|IB)\s+", "", text)
        sections[key] = sections.get(key, "") + text.replace('"', "")
    return sections


def help_text(binary, *args):
    p = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        sys.exit(f"`connreset {' '.join(args)} --help` exited {p.returncode}: {p.stderr}")
    return p.stdout


def help_subcommands(text):
    subs, on = [], False
    for line in text.splitlines():
        if re.match(r"^[A-Za-z ]*:$", line):
            on = "subcommand" in line.lower()
            continue
        m = re.match(r"^  ([a-z][a-z0-9-]*)\b", line)
        if on and m:
            subs.append(m.group(1))
    return subs


def help_options(text):
    """Option names of the first column of an --help ('  -p,--pid UINT   description')."""
    opts = []
    for line in text.splitlines():
        m = re.match(r"^\s+(-[^\s]+)", line)
        if m:
            opts += [o for o in m.group(1).split(",") if o.startswith("-")]
    return opts


def mentions(text, option):
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def main():
    binary, man = sys.argv[1], sys.argv[2]
    sec = man_sections(man)
    general = sec.get("SH GENERAL OPTIONS", "")
    tracing = sec.get("SH TRACING OPTIONS", "")
    problems = []

    top = help_text(binary)
    subs = help_subcommands(top)
    if not subs:
        sys.exit("no subcommands found in `connreset --help` (has its format changed?)")
    for opt in help_options(top):
        if not mentions(general, opt):
            problems.append(f"option {opt} of `connreset --help`: add it under `.SH GENERAL OPTIONS`")
    checked = 0
    for sub in subs:
        own = sec.get(f"SS {sub}")
        if own is None:
            problems.append(f"subcommand `{sub}`: add a `.SS {sub}` section under `.SH COMMANDS` "
                            "(what it does, then a .TP entry per option)")
            continue
        if not mentions(sec.get("SH SYNOPSIS", ""), sub):
            problems.append(f"subcommand `{sub}`: add a `.B connreset {sub}` line to `.SH SYNOPSIS`")
        allowed = own + general + (tracing if "TRACING OPTIONS" in own else "")
        for opt in help_options(help_text(binary, sub)):
            checked += 1
            if not mentions(allowed, opt):
                problems.append(
                    f"option {opt} of `connreset {sub} --help`: add a .TP entry for it under "
                    f"`.SS {sub}` (or under `.SH TRACING OPTIONS` if every tracing command shares it)")

    # exit statuses of command line errors: each must be listed (as N or as a range N-M)
    codes = set()
    for m in re.finditer(r"^(\d+)(?:-(\d+))?\s*$", sec.get("SH EXIT STATUS", ""), re.M):
        lo = int(m.group(1))
        codes.update(range(lo, int(m.group(2) or lo) + 1))
    for args in (["no-such-subcommand"], [subs[0], "--no-such-option"], []):
        rc = subprocess.run([binary, *args], capture_output=True, timeout=30).returncode
        if rc not in codes:
            problems.append(f"exit status {rc} of `connreset {' '.join(args)}`: "
                            "list it under `.SH EXIT STATUS`")

    warn = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", man], capture_output=True, text=True)
    if warn.stderr.strip():
        problems.append(f"groff warnings (fix the troff): {warn.stderr.strip()}")

    if problems:
        print(f"{man} is out of date with {binary}:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"{man}: {len(subs)} subcommands, {checked} subcommand options, exit statuses: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
