"""The progress line (`--progress`): bytes and lines done, rate and ETA, on stderr.

Drawn by tqdm, which also knows how to keep the line apart from the messages
written while it is shown.
"""
from __future__ import annotations

import contextlib
import sys

from tqdm import tqdm

from .inputs import STDIN, compression_of, is_path, regular_file_status, source_list

TYPE_CHECKING = False  # True only for a type checker
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from .inputs import Source
    from .stream import Problem, Progress, Report

# Without --progress, a terminal gets the line only on runs longer than this.
QUIET_SECONDS = 1.0


@contextlib.contextmanager
def progress_line(sources: Source | Iterable[Source] | None, report: Report,
                  asked: bool | None) -> Iterator[tuple[Progress, Report]]:
    """Yield (progress, report): the callback filter_stream takes, and `report` made bar-aware.

    `asked` is True for --progress; None means the line is shown on a terminal
    once a run has lasted QUIET_SECONDS.
    """
    bar = tqdm(total=plain_size(sources), unit="B", unit_scale=True, unit_divisor=1024,
               file=sys.stderr, delay=0 if asked else QUIET_SECONDS, dynamic_ncols=True,
               desc="jsonfilter")
    lines = 0

    def progress(size: int, more_lines: int) -> None:
        nonlocal lines
        lines += more_lines
        bar.set_postfix_str(f"{lines:,} lines", refresh=False)
        bar.update(size)

    def report_around_bar(problem: Problem) -> None:
        with tqdm.external_write_mode(file=sys.stderr):
            report(problem)

    try:
        yield progress, report_around_bar
    finally:
        bar.close()


def plain_size(sources: Source | Iterable[Source] | None) -> int | None:
    """Total size of the inputs when known in advance (all uncompressed files), else None."""
    total = 0
    for source in source_list(sources):
        if source == STDIN or not is_path(source):  # stdin, or a file object: read as it comes
            return None
        try:
            status = regular_file_status(source)
            if status is None:
                return None
            with open(source, "rb") as f:
                if compression_of(f.read(6)):
                    return None
        except OSError:
            continue  # reported in its turn, when the run reaches it
        total += status.st_size
    return total
