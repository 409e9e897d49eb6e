"""Filtering whole streams: every input in order, chunk by chunk, results written, counts kept.

`filter_stream` runs a chunk filter (the fast path, or `chunk.filter_chunk`)
over every input and writes each ChunkResult; the command line is a thin
shell over it.
"""
from __future__ import annotations

import io
import time

from .chunk import KEEP_BAD, ChunkResult, filter_chunk
from .inputs import InputError, display_name, open_input, read_chunks, source_list
from .record import DEFAULT_SPEC, BadRecord, Spec

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Literal, Protocol, TextIO, Union

    from typing_extensions import TypeAlias

    from .batch import BatchFilter
    from .inputs import Listed, Source

    class BinaryWriter(Protocol):
        """Where output goes: anything with .write(bytes)."""

        def write(self, data: bytes, /) -> object: ...

    # What to do with bad records (filter_stream's on_error).
    OnError = Literal["warn", "skip", "fail"]
    # A problem handed to `report`: an input that cannot be read, or a bad record.
    Problem: TypeAlias = Union[InputError, BadRecord]
    Report: TypeAlias = Callable[[Problem], object]
    # progress(bytes, lines), after each chunk is written
    Progress: TypeAlias = Callable[[int, int], object]
    # A chunk of whole lines, and how many bad lines to keep, to its ChunkResult.
    ChunkFilter: TypeAlias = Callable[[Union[bytes, memoryview], int], ChunkResult]

ON_ERROR_MODES: tuple[OnError, ...] = ("warn", "skip", "fail")


class WorkerDied(Exception):
    """A worker process (`-j`) ended without finishing its work: the output is incomplete."""


class Counts:
    """What a run did; `seconds` is wall-clock time."""

    # A plain class: dataclasses takes longer to import than a short run takes.
    __slots__ = ("lines_read", "records_written", "skipped", "bad_records", "blank", "bytes_read",
                 "unreadable_inputs", "seconds", "started")
    _SHOWN = __slots__[:-1]

    def __init__(self, lines_read: int = 0, records_written: int = 0, skipped: int = 0, bad_records: int = 0,
                 blank: int = 0, bytes_read: int = 0, unreadable_inputs: int = 0, seconds: float = 0.0,
                 started: float | None = None) -> None:
        self.lines_read = lines_read
        self.records_written = records_written  # the selected records
        self.skipped = skipped  # records passed over by Spec(missing="skip")
        self.bad_records = bad_records  # the rejected ones
        self.blank = blank  # lines of nothing but JSON whitespace
        self.bytes_read = bytes_read
        self.unreadable_inputs = unreadable_inputs
        self.seconds = seconds
        self.started = time.perf_counter() if started is None else started

    def __repr__(self) -> str:
        return "Counts({})".format(", ".join(f"{name}={getattr(self, name)!r}" for name in self._SHOWN))

    def __eq__(self, other: object) -> bool:
        if type(other) is not Counts:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    @property
    def not_selected(self) -> int:
        """Good records whose sum is not above the threshold: every line read is one of these five."""
        return self.lines_read - self.blank - self.records_written - self.bad_records - self.skipped

    @property
    def mb_per_s(self) -> float:
        return self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0


def filter_stream(sources: Source | Iterable[Listed] | None, out: BinaryWriter | TextIO, *,
                  spec: Spec = DEFAULT_SPEC, on_error: OnError = "warn", report: Report | None = None,
                  counts: Counts | None = None, fast: bool = True, progress: Progress | None = None,
                  rejects: BinaryWriter | None = None, max_messages: int = KEEP_BAD,
                  max_count: int | None = None) -> Counts:
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
    chunk is written. With `max_count` (-m), the run stops after that many
    selected records, as if the input ended there: no line after the last
    of them is counted, reported or rejected, and no input after it opened.
    A source may be an InputError, an input known to be unreadable (a folder
    that cannot be listed): it is reported in its turn.
    """
    if on_error not in ON_ERROR_MODES:
        raise ValueError(f"on_error must be one of {ON_ERROR_MODES}, not {on_error!r}")
    writer = binary_output(out)
    counts = counts if counts is not None else Counts()
    report = report or (lambda problem: None)
    chunk_filter = chunk_filter_for(spec, fast)
    enough = max_count is not None and max_count <= counts.records_written
    for source in (() if enough else source_list(sources)):
        lineno = 0  # lines of this input done so far: messages count per input
        try:
            if isinstance(source, InputError):
                raise source
            name = display_name(source)
            # Iterate inside the `with`, so no chunk outlives the file it came from.
            with open_input(source, writer) as (reader, fmt):
                for chunk in read_chunks(reader, name, fmt):
                    # Only the bad lines whose messages are still to come are kept.
                    keep = max_messages - counts.bad_records if on_error == "warn" else 1
                    result = chunk_filter(chunk, keep)
                    if max_count is not None:
                        result = up_to(max_count - counts.records_written, result, chunk, spec, keep)
                        enough = result.selected == max_count - counts.records_written
                    counts.bytes_read += len(chunk)
                    lineno += write_result(result, name, lineno, writer, on_error, report, counts,
                                           rejects=rejects, max_messages=max_messages)
                    if progress:
                        progress(len(chunk), result.lines)
                    if enough:
                        break
        except InputError as err:
            counts.unreadable_inputs += 1
            report(err)
        if enough:
            break
    counts.seconds = time.perf_counter() - counts.started
    return counts


def up_to(remaining: int, result: ChunkResult, chunk: bytes | memoryview, spec: Spec, keep: int) -> ChunkResult:
    """`result`, or when it selects `remaining` records or more, the result of `chunk`'s lines up to the remaining-th.

    The lines after it are not read (-m): the cut is made per record, once a run.
    """
    if result.selected < remaining:
        return result
    return filter_chunk(chunk, spec, keep, limit=remaining)


def binary_output(out: BinaryWriter | TextIO) -> BinaryWriter:
    """`out` itself, or the binary buffer under a text stream (sys.stdout), its text flushed first."""
    if isinstance(out, io.TextIOBase):
        out.flush()
        return out.buffer
    return out  # type: ignore[return-value]  # a TextIO is an io.TextIOBase at run time


# Without the native scanner, inputs smaller than this are done sooner per
# record than by loading msgspec for the fast path.
SMALL_INPUT = 1 << 16


def chunk_filter_for(spec: Spec, fast: bool = True) -> ChunkFilter:
    """A function from a chunk (and how many bad lines to keep) to its ChunkResult.

    Both give the same results. With the native scanner the fast path takes
    every chunk from the first byte (it needs no import that costs time);
    without it, the fast path is loaded once SMALL_INPUT bytes have come, so
    a command run on a few lines starts as fast as it can.
    """
    batch: BatchFilter | None = None
    seen = 0

    def fast_or_small(chunk: bytes | memoryview, keep: int = KEEP_BAD) -> ChunkResult:
        nonlocal batch, seen
        if batch is None:
            from .batch import BatchFilter, native  # function-level: saves start-up on an empty input

            seen += len(chunk)
            if not native() and seen < SMALL_INPUT:
                return filter_chunk(chunk, spec, keep)
            batch = BatchFilter(spec)
        return batch(chunk, keep)

    def per_record(chunk: bytes | memoryview, keep: int = KEEP_BAD) -> ChunkResult:
        return filter_chunk(chunk, spec, keep)

    return fast_or_small if fast else per_record


def write_result(result: ChunkResult, name: str, lineno: int, out: BinaryWriter, on_error: OnError,
                 report: Report, counts: Counts, rejects: BinaryWriter | None = None,
                 max_messages: int = KEEP_BAD) -> int:
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


def _write(out: BinaryWriter, output: bytes, selected: int, counts: Counts) -> None:
    if selected:
        out.write(output)
        counts.records_written += selected
