"""Shell completion for bash, zsh and fish, written by shtab from the command's own parser.

`python -m json_mapper.completion` writes the three scripts into
completions/; tests/test_grep_habits.py fails while a committed script
differs from a fresh one, so an option added to the parser reaches them, as
it reaches the man page. `pip install` puts each where its shell looks for
it (setup.cfg's data_files). shtab is needed only to write them: it comes
with the `test` extra, not with the command.
"""
from __future__ import annotations

import os
import sys

from .cli import build_parser

TYPE_CHECKING = False  # True only for a type checker
if TYPE_CHECKING:
    from collections.abc import Sequence

# Each shell's script, by its path under completions/ (and, installed, under
# PREFIX/share: see setup.cfg), named as that shell looks for it.
SCRIPTS = {
    "bash": os.path.join("bash", "jsonfilter"),
    "zsh": os.path.join("zsh", "_jsonfilter"),
    "fish": os.path.join("fish", "jsonfilter.fish"),
}
# The options whose argument is a file name (and the operands, FILE ...).
FILE_ARGUMENTS = ("files", "rejects", "files_from", "files0_from")


def script(shell: str) -> str:
    """The completion script for `shell` ("bash", "zsh" or "fish")."""
    import shtab  # function-level: saves start-up, and the module loads without shtab (the test extra's)

    parser = build_parser()
    for action in parser._actions:
        if action.dest in FILE_ARGUMENTS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]  # shtab reads this attribute
    return shtab.complete(parser, shell)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or argv[:1] in (["-h"], ["--help"]):
        sys.exit("usage: python -m json_mapper.completion [FOLDER]  (default: completions)")
    folder = argv[0] if argv else "completions"
    for shell, path in SCRIPTS.items():
        os.makedirs(os.path.join(folder, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(folder, path), "w", encoding="utf-8") as out:
            out.write(script(shell))


if __name__ == "__main__":
    main()
