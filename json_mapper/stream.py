"""Filtering whole streams: every input in order, chunk by chunk, results written, counts kept.

`filter_stream` runs a chunk filter (the fast path, or `chunk.filter_chunk`)
over every input and writes each ChunkResult; the command line is a thin
shell over it.
"""
import io
import time

from .chunk import KEEP_BAD, filter_chunk
from .inputs import InputError, display_name, open_input, read_chunks, source_list
from .record import DEFAULT_SPEC, BadRecord

ON_ERROR_MODES = ("warn", "skip", "fail")


class WorkerDied(Exception):
    """A worker process (`-j`) ended without finishing its work: the output is incomplete."""


class Counts:
    """What a run did; `seconds` is wall-clock time."""

    # A plain class: dataclasses takes longer to import than a short run takes.
    __slots__ = ("lines_read", "records_written", "skipped", "bad_records", "blank", "bytes_read",
                 "unreadable_inputs", "seconds", "started")
    _SHOWN = __slots__[:-1]

    def __init__(self, lines_read=0, records_written=0, skipped=0, bad_records=0, blank=0, bytes_read=0,
                 unreadable_inputs=0, seconds=0.0, started=None):
        self.lines_read = lines_read
        self.records_written = records_written  # the selected records
        self.skipped = skipped  # records passed over by Spec(missing="skip")
        self.bad_records = bad_records  # the rejected ones
        self.blank = blank  # lines of nothing but JSON whitespace
        self.bytes_read = bytes_read
        self.unreadable_inputs = unreadable_inputs
        self.seconds = seconds
        self.started = time.perf_counter() if started is None else started

    def __repr__(self):
        return "Counts({})".format(", ".join(f"{name}={getattr(self, name)!r}" for name in self._SHOWN))

    def __eq__(self, other):
        if type(other) is not Counts:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # mutable, as the dataclass was

    @property
    def not_selected(self):
        """Good records whose sum is not above the threshold: every line read is one of these five."""
        return self.lines_read - self.blank - self.records_written - self.bad_records - self.skipped

    @property
    def mb_per_s(self):
        return self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0


def filter_stream(sources, out, *, spec=DEFAULT_SPEC, on_error="warn", report=None, counts=None,
                  fast=True, progress=None, rejects=None, max_messages=KEEP_BAD):
    """Filter every source in order into `out`, and return the Counts.

    `sources` is one source or a list of them (an empty list means stdin):
    a file path (str or os.PathLike), "-" for stdin, or a binary file object
    (read, not closed). `out` is a binary file object (anything with
    .write(bytes)), or a text stream such as sys.stdout, whose .buffer is
    written to. Unreadable inputs, and the first `max_messages` bad records,
    are passed to `report` (an InputError or a BadRecord) unless on_error is
    "skip" (which passes over bad records silently); `Counts.bad_records`
    counts them all. `rejects`, if given, is a binary file object that gets
    every bad record's line as it was read, in input order, each ending
    with b"\n". After an unreadable input the rest are still read. With
    on_error="fail" the first bad record is raised as BadRecord, after
    everything selected before it has been written (and its line to
    `rejects`). `fast` picks the batched fast path (`batch.BatchFilter`),
    which writes the same bytes as the per-record loop (`fast=False`), only
    sooner. `progress`, if given, is called with (bytes, lines) after each
    chunk is written.
    """
    if on_error not in ON_ERROR_MODES:
        raise ValueError(f"on_error must be one of {ON_ERROR_MODES}, not {on_error!r}")
    out = binary_output(out)
    counts = counts if counts is not None else Counts()
    report = report or (lambda problem: None)
    chunk_filter = chunk_filter_for(spec, fast)
    for source in source_list(sources):
        name = display_name(source)
        lineno = 0  # lines of this input done so far: messages count per input
        try:
            # Iterate inside the `with`, so no chunk outlives the file it came from.
            with open_input(source, out) as (reader, fmt):
                for chunk in read_chunks(reader, name, fmt):
                    # Only the bad lines whose messages are still to come are kept.
                    keep = max_messages - counts.bad_records if on_error == "warn" else 1
                    result = chunk_filter(chunk, keep)
                    counts.bytes_read += len(chunk)
                    lineno += write_result(result, name, lineno, out, on_error, report, counts,
                                           rejects=rejects, max_messages=max_messages)
                    if progress:
                        progress(len(chunk), result.lines)
        except InputError as err:
            counts.unreadable_inputs += 1
            report(err)
    counts.seconds = time.perf_counter() - counts.started
    return counts


def binary_output(out):
    """`out` itself, or the binary buffer under a text stream (sys.stdout), its text flushed first."""
    if isinstance(out, io.TextIOBase):
        out.flush()
        return out.buffer
    return out


# Without the native scanner, inputs smaller than this are done sooner per
# record than by loading msgspec for the fast path.
SMALL_INPUT = 1 << 16


def chunk_filter_for(spec, fast=True):
    """A function from a chunk (and how many bad lines to keep) to its ChunkResult.

    Both give the same results. With the native scanner the fast path takes
    every chunk from the first byte (it needs no import that costs time);
    without it, the fast path is loaded once SMALL_INPUT bytes have come, so
    a command run on a few lines starts as fast as it can.
    """
    batch = None
    seen = 0

    def fast_or_small(chunk, keep=KEEP_BAD):
        nonlocal batch, seen
        if batch is None:
            from .batch import BatchFilter, native  # function-level: saves start-up on an empty input

            seen += len(chunk)
            if not native() and seen < SMALL_INPUT:
                return filter_chunk(chunk, spec, keep)
            batch = BatchFilter(spec)
        return batch(chunk, keep)

    return fast_or_small if fast else (lambda chunk, keep=KEEP_BAD: filter_chunk(chunk, spec, keep))


def write_result(result, name, lineno, out, on_error, report, counts, rejects=None,
                 max_messages=KEEP_BAD):
    """Write one chunk's ChunkResult to `out` (its bad lines to `rejects`), keep count, and return its number of lines.

    `lineno` is the number of lines of input `name` before this chunk. Under
    on_error="warn", the run's first `max_messages` bad records go to
    `report` (every chunk keeps the bad lines still to be told, so they are
    all there); the rest are counted.
    """
    if result.bad_count and on_error == "fail":
        first = result.bad[0]
        _write(out, result.output[:first.offset], first.selected, counts)
        if rejects is not None:
            rejects.write(result.rejects[:result.rejects.index(b"\n") + 1])
        counts.lines_read += first.index + 1
        counts.blank += first.blank
        counts.skipped += first.skipped
        counts.bad_records += 1
        raise BadRecord(first.reason, name, lineno + first.index + 1)
    _write(out, result.output, result.selected, counts)
    if rejects is not None and result.rejects:
        rejects.write(result.rejects)
    counts.lines_read += result.lines
    counts.blank += result.blank
    counts.skipped += result.skipped
    if on_error == "warn":
        for bad in result.bad[:max(0, max_messages - counts.bad_records)]:
            report(BadRecord(bad.reason, name, lineno + bad.index + 1))
    counts.bad_records += result.bad_count
    return result.lines


def _write(out, output, selected, counts):
    if selected:
        out.write(output)
        counts.records_written += selected
