"""Filtering whole streams: chunks of lines in, selected lines out, counts kept.

`filter_chunk` is the per-record loop over one chunk; `filter_stream` runs it
over every input in order and writes the results. The command line is a thin
shell over `filter_stream`.
"""
import time
from dataclasses import dataclass, field

from .inputs import STDIN, InputError, display_name, open_input, read_chunks
from .record import DEFAULT_SPEC, SKIPPED, BadRecord, filter_record

ON_ERROR_MODES = ("warn", "skip", "fail")


@dataclass
class ChunkResult:
    """What one chunk gave: the selected lines and where its bad records were.

    `bad` holds (line index within the chunk, reason, number of selected lines
    before it, number of skipped lines before it), so that a caller stopping at
    a bad record can write and count exactly what came before it. `skipped`
    counts the records that `--missing skip` passed over.
    """

    lines: int
    selected: list
    bad: list
    skipped: int = 0


def joined(results):
    """One ChunkResult for the results of consecutive chunks."""
    if len(results) == 1:
        return results[0]
    lines = 0
    selected = []
    bad = []
    skipped = 0
    for result in results:
        bad += [(lines + index, reason, len(selected) + before, skipped + skipped_before)
                for index, reason, before, skipped_before in result.bad]
        selected += result.selected
        lines += result.lines
        skipped += result.skipped
    return ChunkResult(lines, selected, bad, skipped)


def filter_chunk(chunk, spec=DEFAULT_SPEC):
    """Run `filter_record` over every line of `chunk` (bytes, or any buffer, of whole lines)."""
    lines = bytes(chunk).split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    selected = []
    bad = []
    skipped = 0
    for i, line in enumerate(lines):
        try:
            out = filter_record(line, spec)
        except BadRecord as err:
            bad.append((i, err.reason, len(selected), skipped))
            continue
        if out is not None:
            if out is SKIPPED:
                skipped += 1
            else:
                selected.append(out)
    return ChunkResult(len(lines), selected, bad, skipped)


class WorkerDied(Exception):
    """A worker process (`-j`) ended without finishing its work: the output is incomplete."""


@dataclass
class Counts:
    """What a run did; `seconds` is wall-clock time."""

    lines_read: int = 0
    records_written: int = 0
    skipped: int = 0
    bad_records: int = 0
    bytes_read: int = 0
    unreadable_inputs: int = 0
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)

    @property
    def mb_per_s(self):
        return self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0


def filter_stream(sources, out, spec=DEFAULT_SPEC, on_error="warn", report=None, counts=None,
                  fast=True, progress=None):
    """Filter every source in order into `out`, and return the Counts.

    `sources` are file paths or "-" for stdin (an empty list means stdin);
    `out` is a binary file object (anything with .write(bytes)). Bad records
    and unreadable inputs are passed to `report` (a BadRecord or InputError)
    unless on_error is "skip" (which passes over bad records silently); after an
    unreadable input the rest are still read. With on_error="fail" the first bad record is
    raised as BadRecord, after everything selected before it has been written.
    `fast` picks the batched fast path (`batch.BatchFilter`), which writes the
    same bytes as the per-record loop (`fast=False`), only sooner. `progress`,
    if given, is called with (bytes, lines) after each chunk is written.
    """
    if on_error not in ON_ERROR_MODES:
        raise ValueError(f"on_error must be one of {ON_ERROR_MODES}, not {on_error!r}")
    counts = counts if counts is not None else Counts()
    report = report or (lambda problem: None)
    chunk_filter = chunk_filter_for(spec, fast)
    for source in list(sources) or [STDIN]:
        name = display_name(source)
        lineno = 0  # lines of this input done so far: messages count per input
        try:
            # Iterate inside the `with`, so no chunk outlives the file it came from.
            with open_input(source, out) as (reader, fmt):
                for chunk in read_chunks(reader, name, fmt):
                    result = chunk_filter(chunk)
                    counts.bytes_read += len(chunk)
                    lineno += write_result(result, name, lineno, out, on_error, report, counts)
                    if progress:
                        progress(len(chunk), result.lines)
        except InputError as err:
            counts.unreadable_inputs += 1
            report(err)
    counts.seconds = time.perf_counter() - counts.started
    return counts


# Inputs smaller than this are done sooner per record than by loading the fast path.
SMALL_INPUT = 1 << 16


def chunk_filter_for(spec, fast=True):
    """A function from a chunk to its ChunkResult: the fast path or the per-record loop.

    Both give the same results; the fast path is loaded once SMALL_INPUT
    bytes have come, so a command run on a few lines starts as fast as it can.
    """
    batch = None
    seen = 0

    def fast_or_small(chunk):
        nonlocal batch, seen
        if batch is None:
            seen += len(chunk)
            if seen < SMALL_INPUT:
                return filter_chunk(chunk, spec)
            from .batch import BatchFilter  # imported here: batch builds on this module

            batch = BatchFilter(spec)
        return batch(chunk)

    return fast_or_small if fast else (lambda chunk: filter_chunk(chunk, spec))


def write_result(result, name, lineno, out, on_error, report, counts):
    """Write one chunk's ChunkResult to `out`, keep count, and return its number of lines.

    `lineno` is the number of lines of input `name` before this chunk.
    """
    if result.bad and on_error == "fail":
        index, reason, before, skipped = result.bad[0]
        _write_lines(out, result.selected[:before], counts)
        counts.lines_read += index + 1
        counts.skipped += skipped
        counts.bad_records += 1
        raise BadRecord(reason, name, lineno + index + 1)
    _write_lines(out, result.selected, counts)
    counts.lines_read += result.lines
    counts.skipped += result.skipped
    counts.bad_records += len(result.bad)
    if on_error == "warn":
        for index, reason, *_ in result.bad:
            report(BadRecord(reason, name, lineno + index + 1))
    return result.lines


def _write_lines(out, lines, counts):
    if lines:
        out.write(b"\n".join(lines) + b"\n")
        counts.records_written += len(lines)
