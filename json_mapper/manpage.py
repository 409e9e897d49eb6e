"""The man page, jsonfilter.1, written from the command's own parser, examples and exit statuses.

`python -m json_mapper.manpage jsonfilter.1` writes it; tests/test_manpage.py
fails while the committed page differs from a fresh one, so an option added to
the parser reaches the page. `pip install` puts it in share/man/man1.
"""
from __future__ import annotations

import sys

from . import __version__
from .cli import EXAMPLES, EXIT_STATUSES, PROG, build_parser

TYPE_CHECKING = False  # True only for a type checker
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

DESCRIPTION = """\
Each input line is a JSON Lines record. A good record is one JSON object (RFC 8259, valid UTF-8) \
whose selected fields all hold numbers whose sum, added left to right in double precision, is \
finite. It is selected when that sum is strictly greater than the threshold (with -v, when it \
is not), and written out with the sum as its last key; every other byte of it is kept as it came in.

Any other line is a bad record, reported on stderr as one line, \
jsonfilter: NAME:LINE: REASON. Blank lines are ignored. gzip, bzip2 and xz input is \
decompressed on the fly, recognised by its first bytes."""


def roff(text: str) -> str:
    """`text` safe to put in a man page: backslashes and hyphens escaped, no line read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n"))


def _invocation(action: argparse.Action, formatter: argparse.HelpFormatter) -> str:
    # argparse's own rendering of the option's arguments (NUM, {warn,skip,fail}, [FILE ...]).
    if not action.option_strings:
        return f"\\fI{roff(formatter._format_args(action, action.dest))}\\fR"
    args = "" if action.nargs == 0 else f" \\fI{roff(formatter._format_args(action, action.dest.upper()))}\\fR"
    return ", ".join(f"\\fB{roff(option)}\\fR{args}" for option in action.option_strings)


def manpage() -> str:
    """The page's roff source."""
    parser = build_parser()
    formatter = parser._get_formatter()
    description = parser.description or ""
    lines = [
        f'.TH {PROG.upper()} 1 "" "{PROG} {__version__}" "User Commands"',
        ".nh", ".ad l",  # no hyphens inside names such as jsonfilter or --on-error
        ".SH NAME",
        f"{PROG} \\- {roff(description[0].lower() + description[1:])}",
        ".SH SYNOPSIS",
        f"\\fB{PROG}\\fR [\\fIOPTION\\fR]... [\\fIFILE\\fR]...",
        ".SH DESCRIPTION",
    ]
    for paragraph in DESCRIPTION.split("\n\n"):
        lines += [".PP", roff(paragraph)]
    lines.append(".SH OPTIONS")
    for action in parser._actions:
        lines += [".TP", _invocation(action, formatter), roff(formatter._expand_help(action))]
    lines.append(".SH EXIT STATUS")
    for status, meaning in EXIT_STATUSES:
        lines += [".TP", f"\\fB{status}\\fR", roff(meaning)]
    lines.append(".SH EXAMPLES")
    for example in EXAMPLES:
        lines += [".PP", ".nf", roff(example), ".fi"]
    lines += [".SH SEE ALSO", "\\fBgrep\\fR(1), \\fBjq\\fR(1), \\fBparallel\\fR(1);",
              "the project's README.md for the full contract, speed figures and engines."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or argv[:1] in (["-h"], ["--help"]):
        sys.exit("usage: python -m json_mapper.manpage [OUT]  (default: stdout)")
    if argv:
        with open(argv[0], "w", encoding="utf-8") as out:
            out.write(manpage())
    else:
        sys.stdout.write(manpage())


if __name__ == "__main__":
    main()
