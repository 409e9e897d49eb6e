"""Chunks of whole lines: what one chunk gave (ChunkResult), and the per-record loop that defines it.

Every way of filtering a chunk (this loop, the fast path in `batch`, the
workers of `-j`) gives a ChunkResult, and `stream.write_result` writes it.
"""
from __future__ import annotations

from collections import namedtuple

from .record import DEFAULT_SPEC, JSON_WS, SKIPPED, BadRecord, Spec, filter_record

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import NamedTuple

    from typing_extensions import Buffer

# The bad lines a chunk keeps with their reasons, unless told how many it
# needs (the messages a run still shows); the rest are only counted, so a
# chunk of junk costs no more memory than a clean one.
KEEP_BAD = 10


# Named tuples rather than a dataclass and typing.NamedTuple: those modules
# take longer to import than a short run takes to filter its input. A type
# checker reads the typed classes below, which must name the same fields in
# the same order, with the same defaults.
if TYPE_CHECKING:
    class BadLine(NamedTuple):
        """A bad line of a chunk, and what had been selected (and skipped) before it."""

        index: int  # type: ignore[assignment]  # 0-based line index within the chunk (shadows tuple.index)
        reason: str  # the text after FILE:LINE
        offset: int  # len(output) before this line
        selected: int  # the number of selected lines before it
        skipped: int = 0  # the number of lines Spec(missing="skip") passed over before it
        blank: int = 0  # the number of blank lines before it

    class ChunkResult(NamedTuple):
        """What one chunk gave: its selected lines' output as one block of bytes, and its bad lines."""

        lines: int  # lines in the chunk (a last line without "\n" and blank lines count)
        output: bytes  # the selected lines' output, each followed by b"\n"
        selected: int  # how many lines `output` holds
        bad: list[BadLine]  # the first few (KEEP_BAD, or as asked) BadLines of the chunk, in order
        bad_count: int = 0  # every bad line of the chunk
        skipped: int = 0  # the lines Spec(missing="skip") passed over: not selected, not bad
        blank: int = 0  # the blank lines (nothing but JSON whitespace)
        # every bad line as it was read, each ending with b"\n" (a b"\r\n"
        # ending becomes b"\n"): the --rejects file's share of this chunk
        rejects: bytes = b""
else:
    BadLine = namedtuple("BadLine", "index reason offset selected skipped blank", defaults=(0, 0))
    ChunkResult = namedtuple("ChunkResult", "lines output selected bad bad_count skipped blank rejects",
                             defaults=(0, 0, 0, b""))


def split_lines(chunk: bytes) -> list[bytes]:
    """The lines of `chunk` (bytes), without their b"\\n"; a last line without one counts."""
    lines = chunk.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def filter_chunk(chunk: Buffer, spec: Spec = DEFAULT_SPEC, keep: int = KEEP_BAD,
                 limit: int | None = None) -> ChunkResult:
    """Run `filter_record` over every line of `chunk` (bytes, or any buffer, of whole lines).

    The first `keep` bad lines (at least one) are kept with their reasons.
    With a `limit` (-m), the lines stop at the one that selects the limit-th
    record: the result is that of the chunk's first lines, up to that one.
    """
    keep = max(keep, 1)
    output = bytearray()
    rejects = bytearray()
    selected = 0
    bad: list[BadLine] = []
    bad_count = 0
    skipped = 0
    blank = 0
    lines = 0
    for lines, line in enumerate(_each_line(bytes(chunk)), 1):
        try:
            out = filter_record(line, spec)
        except BadRecord as err:
            if bad_count < keep:
                bad.append(BadLine(lines - 1, err.reason, len(output), selected, skipped, blank))
            bad_count += 1
            rejects += line[:-1] if line.endswith(b"\r") else line
            rejects += b"\n"
            continue
        if out is not None:
            if out is SKIPPED:
                skipped += 1
                continue
            output += out
            output += b"\n"
            selected += 1
            if selected == limit:
                break
        elif not line.strip(JSON_WS):
            blank += 1
    return ChunkResult(lines, bytes(output), selected, bad, bad_count, skipped, blank, bytes(rejects))


def _each_line(chunk: bytes) -> Iterator[bytes]:
    # A part at a time: a chunk of many short lines (junk) would otherwise
    # cost a list of half a million bytes objects per MiB.
    for part in parts(chunk, 64 << 10):
        yield from split_lines(part)


def parts(chunk: bytes, size: int) -> Iterator[bytes]:
    """`chunk` (bytes) cut into slices of whole lines of at most `size` bytes (a longer line whole)."""
    start = 0
    end_of_chunk = len(chunk)
    while start < end_of_chunk:
        if end_of_chunk - start <= size:
            end = end_of_chunk
        else:
            end = chunk.rfind(b"\n", start, start + size) + 1
            if end <= start:  # a line longer than `size`
                end = chunk.find(b"\n", start) + 1 or end_of_chunk
        yield chunk[start:end]
        start = end


def joined(results: Sequence[ChunkResult], keep: int = KEEP_BAD, output: bytes | None = None) -> ChunkResult:
    """One ChunkResult for the results of consecutive chunks (keeping the first `keep` bad lines).

    `output`, if given, is the result's output instead of the outputs joined,
    which are then not copied: a -j worker's are one after the other in its
    slot already.
    """
    if len(results) == 1 and output is None:
        return results[0]
    lines = selected = bad_count = skipped = blank = 0
    outputs = []
    offset = 0
    bad: list[BadLine] = []
    for result in results:
        for line in result.bad[:max(keep, 1) - len(bad)]:
            bad.append(BadLine(lines + line.index, line.reason, offset + line.offset, selected + line.selected,
                               skipped + line.skipped, blank + line.blank))
        outputs.append(result.output)
        offset += len(result.output)
        lines += result.lines
        selected += result.selected
        bad_count += result.bad_count
        skipped += result.skipped
        blank += result.blank
    return ChunkResult(lines, b"".join(outputs) if output is None else output, selected, bad, bad_count, skipped,
                       blank, b"".join(result.rejects for result in results))
