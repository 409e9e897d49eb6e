"""Chunks of whole lines: what one chunk gave (ChunkResult), and the per-record loop that defines it.

Every way of filtering a chunk (this loop, the fast path in `batch`, the
workers of `-j`) gives a ChunkResult, and `stream.write_result` writes it.
"""
from collections import namedtuple

from .record import DEFAULT_SPEC, JSON_WS, SKIPPED, BadRecord, filter_record

# The bad lines a chunk keeps with their reasons, unless told how many it
# needs (the messages a run still shows); the rest are only counted, so a
# chunk of junk costs no more memory than a clean one.
KEEP_BAD = 10


# Named tuples rather than a dataclass and typing.NamedTuple: those modules
# take longer to import than a short run takes to filter its input.

# A bad line of a chunk, and what had been selected (and skipped) before it:
#   index: 0-based line index within the chunk
#   reason: the text after FILE:LINE
#   offset: len(output) before this line
#   selected: the number of selected lines before it
#   skipped: the number of lines Spec(missing="skip") passed over before it
#   blank: the number of blank lines before it
BadLine = namedtuple("BadLine", "index reason offset selected skipped blank", defaults=(0, 0))

# What one chunk gave: its selected lines' output as one block of bytes, and
# its bad lines.
#   lines: lines in the chunk (a last line without "\n" and blank lines count)
#   output: the selected lines' output, each followed by b"\n"
#   selected: how many lines `output` holds
#   bad: the first few (KEEP_BAD, or as asked) BadLines of the chunk, in order
#   bad_count: every bad line of the chunk
#   skipped: the lines Spec(missing="skip") passed over: not selected, not bad
#   blank: the blank lines (nothing but JSON whitespace)
#   rejects: every bad line as it was read, each ending with b"\n" (a b"\r\n"
#     ending becomes b"\n"): the --rejects file's share of this chunk
ChunkResult = namedtuple("ChunkResult", "lines output selected bad bad_count skipped blank rejects",
                         defaults=(0, 0, 0, b""))


def split_lines(chunk):
    """The lines of `chunk` (bytes), without their b"\\n"; a last line without one counts."""
    lines = chunk.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def filter_chunk(chunk, spec=DEFAULT_SPEC, keep=KEEP_BAD):
    """Run `filter_record` over every line of `chunk` (bytes, or any buffer, of whole lines).

    The first `keep` bad lines (at least one) are kept with their reasons.
    """
    keep = max(keep, 1)
    output = bytearray()
    rejects = bytearray()
    selected = 0
    bad = []
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
        elif not line.strip(JSON_WS):
            blank += 1
    return ChunkResult(lines, bytes(output), selected, bad, bad_count, skipped, blank, bytes(rejects))


def _each_line(chunk):
    # A part at a time: a chunk of many short lines (junk) would otherwise
    # cost a list of half a million bytes objects per MiB.
    for part in parts(chunk, 64 << 10):
        yield from split_lines(part)


def parts(chunk, size):
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


def joined(results, keep=KEEP_BAD):
    """One ChunkResult for the results of consecutive chunks (keeping the first `keep` bad lines)."""
    if len(results) == 1:
        return results[0]
    lines = selected = bad_count = skipped = blank = 0
    outputs = []
    offset = 0
    bad = []
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
    return ChunkResult(lines, b"".join(outputs), selected, bad, bad_count, skipped, blank,
                       b"".join(result.rejects for result in results))
