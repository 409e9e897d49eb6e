"""`-j N`: the same filtering in N worker processes, written in input order.

Work is cut into pieces. On Linux a plain regular file is cut into byte
ranges that the workers read themselves, through this process's open file
(/proc/PID/fd/N) rather than its path, so they read the very file `-j 1`
would read, to its end, even once the path is deleted or replaced. Anything
else (stdin, a pipe, compressed data, and regular files where there is no
/proc) is read here, by one reader, into a ring of slots in memory shared
with the workers, so a piece is handed over as a slot number and a length,
never copied. A worker returns one ChunkResult per piece, its output left
in a slot of shared memory (see _Pool). Results are written strictly in the order the pieces were made,
through the same `stream.write_result` as the one-process path, so the
output, the messages and their FILE:LINE are the same whatever N is. At most
a few pieces per worker are in flight, so memory stays flat whatever the
input size.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import math
import mmap
import multiprocessing
import multiprocessing.connection
import os
import select
import signal
import stat
import time
from typing import TYPE_CHECKING, Callable, NamedTuple

from .chunk import KEEP_BAD, ChunkResult, joined
from .inputs import (
    BOM,
    CHUNK_SIZE,
    FILE_CHUNK_SIZE,
    STDIN,
    InputError,
    direct,
    display_name,
    is_path,
    open_input,
    read_some,
    read_some_into,
    regular_file_status,
    source_list,
)
from .record import DEFAULT_SPEC, Spec
from .stream import (
    ON_ERROR_MODES,
    Counts,
    WorkerDied,
    binary_output,
    chunk_filter_for,
    filter_stream,
    up_to,
    write_result,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from multiprocessing.connection import Connection
    from typing import TextIO

    from typing_extensions import TypeAlias

    from .batch import BatchFilter
    from .inputs import Listed, Reader, Source
    from .stream import BinaryWriter, ChunkFilter, OnError, Progress, Report

# What a worker gives for a piece: (bytes read, its ChunkResult, the
# InputError that stopped the reads or None, and whether the input ended
# before the piece did: a file truncated while it is read).
Outcome: TypeAlias = "tuple[int, ChunkResult, InputError | None, bool]"
# A piece's work: run by a worker (or, for a line longer than a slot, here).
Job: TypeAlias = "functools.partial[Outcome]"
# input_ready(): whether more input has come
Idle: TypeAlias = "Callable[[Callable[[], bool]], None]"

# Pieces in flight per worker: enough to keep every worker busy while the
# results of the others are written.
PIECES_PER_WORKER = 2
# Pieces start at a chunk and grow up to MAX_PIECE while little is selected:
# a large piece keeps the cost of handing it out small next to the work (the
# native scanner filters 1 MiB in about a millisecond), and a worker still
# filters it chunk by chunk. The more is selected, the smaller the pieces
# (about OUTPUT_BUDGET of output each), so the results waiting to be
# written stay small whatever the data.
MAX_PIECE = 8 << 20
OUTPUT_BUDGET = 1 << 20
SLOT_SIZE = MAX_PIECE // 2  # a slot of the ring (see _Ring); a piece read by one reader is at most this
RING_SIZE = 32 << 20  # the most the ring's slots take together, however many workers
# How long whole lines read from a pipe wait for more input before they are
# handed out as a piece of their own: short enough that a line of a live
# stream (`tail -f log | jsonfilter -j 2`) comes out at once, long enough
# that a fast producer fills whole slots rather than many small pieces.
LINGER = 0.02


class Piece(NamedTuple):
    """One piece of work, in input order."""

    source: int  # the input it belongs to, counted from 0
    name: str  # the input's name in messages
    job: Job | None = None  # run by a worker: gives its Outcome
    error: InputError | None = None  # instead of a job: the input failed here


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def filter_parallel(sources: Source | Iterable[Listed] | None, out: BinaryWriter | TextIO, *,
                    spec: Spec = DEFAULT_SPEC, on_error: OnError = "warn", report: Report | None = None,
                    counts: Counts | None = None, jobs: int = 0, fast: bool = True,
                    progress: Progress | None = None, rejects: BinaryWriter | None = None,
                    max_messages: int = KEEP_BAD, max_count: int | None = None) -> Counts:
    """`stream.filter_stream` in `jobs` worker processes (0: one per CPU); same arguments.

    Writes exactly what filter_stream writes and reports the same problems.
    Raises WorkerDied if a worker process dies. `progress`, if given, is
    called with (bytes, lines) after each piece is written. Where there is
    no fork (Windows), the run is filter_stream's, in this one process.
    With `max_count`, the run ends once the piece holding the last record
    wanted is written: no more input is read, and the workers are stopped.
    """
    if on_error not in ON_ERROR_MODES:
        raise ValueError(f"on_error must be one of {ON_ERROR_MODES}, not {on_error!r}")
    jobs = jobs or cpu_count()
    if (jobs == 1 or "fork" not in multiprocessing.get_all_start_methods()
            or (max_count is not None and max_count <= (counts.records_written if counts else 0))):
        return filter_stream(sources, out, spec=spec, on_error=on_error, report=report, counts=counts,
                             fast=fast, progress=progress, rejects=rejects, max_messages=max_messages,
                             max_count=max_count)
    out = binary_output(out)
    counts = counts if counts is not None else Counts()
    report = report or (lambda problem: None)
    in_flight = jobs * PIECES_PER_WORKER
    # One slot more than there can be pieces in flight: the slot being filled.
    ring = _Ring(in_flight + 1)
    # The descriptors that workers open plain files through, by input number:
    # each stays open until that input's pieces are written.
    held: dict[int, int] | None = {} if os.path.isdir(f"/proc/{os.getpid()}/fd") else None
    # A worker keeps, per piece, the bad lines that may still be told.
    keep = max_messages if on_error == "warn" else 1
    pool = _Pool(jobs, (spec, fast, ring.memory, keep))
    try:
        writer = _InOrder(out, on_error, report, counts, progress, held, rejects, max_messages)
        if max_count is not None:
            writer.limit = (max_count, spec, keep, ring)
        _run(pool, in_flight, sources, out, ring, held, writer, (chunk_filter_for(spec, fast), keep))
    finally:
        # However the run ends (a bad record with on_error="fail", Ctrl-C, a
        # closed pipe, a dead worker), no worker outlives it.
        pool.close()
        for fd in (held or {}).values():
            os.close(fd)
    counts.seconds = time.perf_counter() - counts.started
    return counts


def _run(pool: _Pool, limit: int, sources: Source | Iterable[Listed] | None, out: BinaryWriter, ring: _Ring,
         held: dict[int, int] | None, writer: _InOrder, here: tuple[ChunkFilter, int]) -> None:
    """Hand the pieces to the workers, at most `limit` in flight, and write their results in turn.

    `here` is the chunk filter, and the bad lines to keep, for the pieces filtered in this process.
    """
    in_flight: collections.deque[tuple[Piece, _Done | _Pending | None]] = collections.deque()

    def catch_up(input_ready: Callable[[], bool]) -> None:
        # The input has paused: write what the workers finish while it stays
        # paused, so that no selected line waits for more input.
        while in_flight and not input_ready():
            writer.finish(*in_flight.popleft())

    # A piece is handed out once the one `limit` places before it is
    # written: a worker's slots of output (see _Pool) and the ring's slots
    # are reused in turn, each once the piece that held it is written.
    try:
        for piece in _pieces(sources, out, writer.sizes, ring, held, catch_up):
            if len(in_flight) == limit:
                writer.finish(*in_flight.popleft())
            if piece.job is None:
                outcome: _Done | _Pending | None = None
            elif piece.job.func is _filter_bytes:  # a line longer than a slot: rare, and done here
                outcome = _Done(piece.job(*here))
            else:
                outcome = pool.submit(piece.job)
            in_flight.append((piece, outcome))
        while in_flight:
            writer.finish(*in_flight.popleft())
    except _Enough:
        # -m: the last record wanted is written. Leaving the loop closes the
        # input being read (the pieces' generator), and the caller stops the
        # workers, whatever they were doing.
        return


class _Enough(Exception):
    """Raised by _InOrder.finish once the records -m asks for are written."""


class _Done:
    """The outcome of a piece filtered in this process."""

    def __init__(self, value: Outcome) -> None:
        self.value = value

    def result(self) -> Outcome:
        return self.value


class _Pending:
    """The outcome of a piece handed to worker `worker` of `pool`, read back in its turn."""

    def __init__(self, pool: _Pool, worker: int) -> None:
        self.pool, self.worker = pool, worker

    def result(self) -> Outcome:
        return self.pool.receive(self.worker)


class _Pool:
    """Forked worker processes, each with a pipe of its own each way; pieces go to them in turn.

    A worker does its pieces in the order it gets them, so the outcomes are
    read back from its pipe in the order the pieces were handed out. Each
    pipe's far end is held by its worker alone: a worker that dies, even
    half way through sending, shows as the end of its pipe, never as a wait
    that does not end. A piece's output comes back through one of the
    worker's OUTPUT_SLOTS slots of shared memory, not through the pipe: it
    is written from there, not copied on the way.
    """

    def __init__(self, jobs: int, initargs: tuple[Spec, bool, mmap.mmap, int]) -> None:
        context = multiprocessing.get_context("fork")
        self.slot_size = OUTPUT_SLOT
        self.memory = mmap.mmap(-1, jobs * OUTPUT_SLOTS * self.slot_size)
        self.view = memoryview(self.memory)
        pipes = [(context.Pipe(duplex=False), context.Pipe(duplex=False)) for _ in range(jobs)]
        self.workers: list[tuple[multiprocessing.process.BaseProcess, Connection, Connection]] = []
        self.turn = 0
        for number, ((tasks, to_worker), (from_worker, results)) in enumerate(pipes):
            # Every pipe end but its own two, closed in the worker: inherited,
            # a dead worker's pipe would never end, nor a worker's when this
            # process dies.
            others = [end for other, pair in enumerate(pipes) if other != number for pipe in pair for end in pipe]
            process = context.Process(target=_work, daemon=True, args=(
                tasks, results, others + [to_worker, from_worker], initargs,
                self.memory, number * OUTPUT_SLOTS * self.slot_size, self.slot_size))
            # Until the worker has set its own handlers (see _start_worker), a
            # SIGTERM or SIGINT would run this process's handlers there, and
            # print a traceback: they wait, blocked, until it has.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, WORKER_SIGNALS)
            try:
                process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            tasks.close()
            results.close()
            self.workers.append((process, to_worker, from_worker))

    def submit(self, job: Job) -> _Pending:
        """Hand `job` to the next worker in turn; return its _Pending outcome."""
        worker = self.turn % len(self.workers)
        self.turn += 1
        try:
            self.workers[worker][1].send(job)
        except OSError:  # its pipe is closed: the worker has died
            raise WorkerDied(WORKER_DIED) from None
        return _Pending(self, worker)

    def receive(self, worker: int) -> Outcome:
        """The next outcome from `worker` (see Outcome)."""
        process, _, results = self.workers[worker]
        try:
            multiprocessing.connection.wait([results, process.sentinel])
            if not results.poll():
                raise EOFError
            outcome, raised = results.recv()
        except (EOFError, OSError):
            raise WorkerDied(WORKER_DIED) from None
        if raised:
            error, remote = raised
            raise error from _RemoteTraceback(remote)
        size, result, error, short = outcome
        if isinstance(result.output, _InSlot):
            at = result.output.offset
            result = result._replace(output=self.view[at:at + result.output.length])
        return size, result, error, short

    def close(self) -> None:
        """Stop every worker: done ones at once, and busy ones too, as their work is no longer wanted."""
        for process, to_worker, from_worker in self.workers:
            to_worker.close()
            from_worker.close()
            if process.exitcode is None:
                process.terminate()
        for process, _, _ in self.workers:
            process.join()


# A worker's output goes in its OUTPUT_SLOTS slots in turn: one slot per
# piece a worker can have in flight (see _run), each big enough for a
# piece's output (pieces are sized for about OUTPUT_BUDGET of it). A larger
# output comes back through the pipe.
OUTPUT_SLOTS = PIECES_PER_WORKER
OUTPUT_SLOT = 2 * OUTPUT_BUDGET
WORKER_DIED = "a worker process died; the output is incomplete"
WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _InSlot(NamedTuple):
    """Where a piece's output is, in the pool's shared memory."""

    offset: int
    length: int


class _RemoteTraceback(Exception):
    """The traceback of an error raised in a worker, as the cause of the error raised here."""

    def __str__(self) -> str:
        return str(self.args[0])


def _work(tasks: Connection, results: Connection, others: list[Connection],
          initargs: tuple[Spec, bool, mmap.mmap, int], memory: mmap.mmap, offset: int, slot_size: int) -> None:
    """A worker's life: do each piece that comes, and send its outcome back, until told to stop."""
    global _slot
    for end in others:
        end.close()
    _start_worker(*initargs)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, WORKER_SIGNALS)  # blocked by _Pool until now
    view = memoryview(memory)
    done = 0
    while True:
        try:
            job = tasks.recv()
        except EOFError:  # the main process has gone
            return
        at = offset + slot_size * (done % OUTPUT_SLOTS)
        _slot = (view[at:at + slot_size], at)  # for _filter_range, which writes its output there
        try:
            size, result, error, short = job()
            if not isinstance(result.output, _InSlot) and len(result.output) <= slot_size:
                view[at:at + len(result.output)] = result.output
                result = result._replace(output=_InSlot(at, len(result.output)))
            answer: tuple[Outcome | None, tuple[Exception, str] | None] = ((size, result, error, short), None)
        except Exception as err:  # a bug: raised again in the main process, with this traceback
            import traceback  # function-level: only a bug needs it; saves start-up (1.5 ms of every -j run)

            answer = (None, (err, traceback.format_exc()))
        done += 1
        try:
            results.send(answer)
        except Exception as err:  # an error that cannot be pickled: its text still gets there
            import traceback  # function-level: saves start-up, as above

            results.send((None, (RuntimeError(repr(err)), traceback.format_exc())))


class _PieceSizes:
    """The size of the next piece, from how much of the last one was selected."""

    def __init__(self) -> None:
        self.next = CHUNK_SIZE

    def written(self, size: int, result: ChunkResult) -> None:
        if size:
            # The rejected lines come back with the output: both count.
            output = max(len(result.output) + len(result.rejects), 1)
            self.next = int(max(CHUNK_SIZE, min(MAX_PIECE, OUTPUT_BUDGET * size / output)))


class _InOrder:
    """Writes the pieces' results in their turn, counting lines per input."""

    def __init__(self, out: BinaryWriter, on_error: OnError, report: Report, counts: Counts,
                 progress: Progress | None, held: dict[int, int] | None, rejects: BinaryWriter | None = None,
                 max_messages: int = KEEP_BAD) -> None:
        self.out, self.on_error, self.report = out, on_error, report
        self.counts, self.progress, self.held = counts, progress, held
        self.rejects, self.max_messages = rejects, max_messages
        self.sizes = _PieceSizes()
        self.source: int | None = None  # the input being written
        self.lineno = 0  # its lines so far
        # An input whose later pieces are dropped: it failed part way, or was truncated while it was read.
        self.unreadable: int | None = None
        # -m: (the records wanted, the Spec, the bad lines to keep, the ring), for the last piece's cut
        self.limit: tuple[int, Spec, int, _Ring] | None = None

    def finish(self, piece: Piece, future: _Done | _Pending | None) -> None:
        if piece.source != self.source:
            # Every piece of the input before is written: its descriptor is no longer needed.
            if self.held and self.source in self.held:
                os.close(self.held.pop(self.source))
            self.source, self.lineno = piece.source, 0
        if piece.source == self.unreadable:
            if future:  # still read back, so the worker's next outcome is the next one read
                future.result()
            return
        if future is None:  # the input failed here
            assert piece.error is not None
            self._unreadable(piece.error)
            return
        size, result, error, short = future.result()
        enough = False
        if self.limit is not None and piece.job is not None:
            wanted, spec, keep, ring = self.limit
            remaining = wanted - self.counts.records_written
            if result.selected >= remaining:
                # The piece's lines up to the last record wanted, filtered
                # again here from the bytes the worker had: they are still
                # in the ring, or in the file.
                result = up_to(remaining, result, _piece_bytes(piece.job, ring), spec, keep)
                enough = True
        self.counts.bytes_read += size
        self.sizes.written(size, result)
        self.lineno += write_result(result, piece.name, self.lineno, self.out, self.on_error,
                                    self.report, self.counts, rejects=self.rejects,
                                    max_messages=self.max_messages)
        if self.progress:
            self.progress(size, result.lines)
        if enough:
            raise _Enough
        if error:  # after the whole lines read before it, as in filter_stream
            self._unreadable(error)
        elif short:
            # The file was truncated while it was read, and the reads of this
            # piece met its new end: -j 1 stops there, so the later pieces,
            # which other workers may have read before the cut, are dropped.
            self.unreadable = self.source

    def _unreadable(self, error: InputError) -> None:
        self.unreadable = self.source
        self.counts.unreadable_inputs += 1
        self.report(error)


def _pieces(sources: Source | Iterable[Listed] | None, out: BinaryWriter, sizes: _PieceSizes, ring: _Ring,
            held: dict[int, int] | None = None, idle: Idle | None = None) -> Iterator[Piece]:
    """Yield a Piece for every piece of work, in input order.

    A plain regular file is cut into ranges when `held` is a dict: its
    descriptor is kept there, by input number, for the workers to open.
    Other inputs are read into the `ring` (see _Ring.pieces for `idle`). An input that cannot be read, or fails
    part way, gives a Piece with its error, after the pieces of the lines read
    before it.
    """
    for number, source in enumerate(source_list(sources)):
        if isinstance(source, InputError):
            yield Piece(number, source.name, error=source)
            continue
        name = display_name(source)
        try:
            with open_input(source, out) as (reader, fmt):
                if held is not None and _plain_file(source, reader, fmt):
                    held[number] = os.dup(reader.fileno())
                    jobs = _ranges(held[number], name, sizes)
                else:
                    jobs = ring.pieces(reader, name, fmt, sizes, idle)
                for job in jobs:
                    yield Piece(number, name, job)
        except InputError as err:
            yield Piece(number, name, error=err)


def _plain_file(source: Source, reader: Reader, fmt: str | None) -> bool:
    """Whether the input is an uncompressed regular file named on the command line."""
    return (is_path(source) and source != STDIN and fmt is None
            and regular_file_status(reader) is not None)


def _ranges(fd: int, name: str, sizes: _PieceSizes) -> Iterator[Job]:
    """Jobs for the ranges of sizes.next bytes of the file open here as `fd`.

    The file's size is looked at again before each range, and the last
    range goes to whatever end the file has when a worker reads it, as
    filter_stream reads to the end: a file that grows is read whole, and so
    is one whose size reads as 0 (/proc/version).
    """
    parent = os.getpid()
    start = 0
    while True:
        end = start + sizes.next
        if end >= os.fstat(fd).st_size:
            yield functools.partial(_filter_range, parent, fd, name, start, None)
            return
        yield functools.partial(_filter_range, parent, fd, name, start, end)
        start = end


class _Ring:
    """Slots of shared memory that the reader fills with whole lines, in turn."""

    def __init__(self, slots: int, slot_size: int | None = None) -> None:
        self.slots = slots
        size = slot_size or max(CHUNK_SIZE, min(SLOT_SIZE, RING_SIZE // slots))
        self.slot_size = max(size, len(BOM) + 1)  # a first read always shows a whole BOM
        # Anonymous and shared: inherited by the forked workers, and its
        # pages are only used once written. It is unmapped when the last
        # view of it goes, which may be after a run ends on an exception
        # (its traceback holds the reader's frame).
        self.memory = mmap.mmap(-1, slots * self.slot_size)
        self.view = memoryview(self.memory)
        self.turn = 0

    def pieces(self, reader: Reader, name: str, fmt: str | None, sizes: _PieceSizes | None = None,
               idle: Idle | None = None) -> Iterator[Job]:
        """Yield a job for the whole lines read into each slot, in turn.

        A slot is filled up to sizes.next bytes (a _PieceSizes), or whole, or,
        from a pipe, until the input pauses while the slot holds whole lines
        (see LINGER): then they are handed out, and once they are,
        `idle(input_ready)` is called, input_ready() telling whether more
        input has come. A line longer than a slot comes as a job with its
        bytes. The input's BOM is dropped, as read_chunks drops it. Raises
        InputError as read_chunks does, once the whole lines read before the
        error have been handed out.
        """
        reader = direct(reader, fmt)
        ready = _readiness(reader, fmt)
        tail = b""  # the start of a line, read into the slot before
        first = True
        while True:
            # The turn moves on only when a slot is handed out, so the pieces
            # in flight always hold the slots of the last turns.
            offset = self.slot_size * (self.turn % self.slots)
            wanted = min(self.slot_size, sizes.next) if sizes else self.slot_size
            # Room for a BOM and a byte after it, so the first read shows whether there is one.
            size = max(wanted, len(tail) + 1, len(BOM) + 1)
            self.view[offset:offset + len(tail)] = tail
            filled, ended, error = self._fill(reader, offset, size, len(tail), name, fmt, ready)
            start = 0
            if first:
                first = False
                if filled >= len(BOM) and self.memory[offset:offset + len(BOM)] == BOM:
                    start = len(BOM)
            end = filled if ended else self.memory.rfind(b"\n", offset + start, offset + filled) + 1 - offset
            if end > start:  # whole lines, or all that is left at the end of the input
                self.turn += 1
                yield functools.partial(_filter_slot, offset + start, end - start)
            elif filled == size:
                # A line longer than a slot: read on to its end.
                line, rest = _rest_of_line(bytes(self.view[offset + start:offset + filled]), reader, name, fmt, size)
                yield functools.partial(_filter_bytes, line)
                if rest is None:
                    return
                tail = rest
                continue
            if error:
                raise error
            if ended:
                return
            tail = bytes(self.view[offset + max(start, end):offset + filled])
            if filled < size and idle and ready:  # the input has paused
                idle(lambda: ready(0))

    def _fill(self, reader: Reader, offset: int, size: int, filled: int, name: str, fmt: str | None,
              ready: Callable[[float], bool] | None) -> tuple[int, bool, InputError | None]:
        """Read into the slot at `offset`, holding `filled` bytes, until it holds `size` or the input ends or pauses.

        The input pauses when `ready` is given and nothing more comes within
        LINGER of the slot first holding a whole line. Returns (the bytes in
        the slot, whether the input ended, the InputError that stopped the
        reads or None).
        """
        waiting_since = None  # when the slot first held a whole line
        searched = 0  # the bytes of the slot that hold no newline
        while filled < size:
            if ready:
                if waiting_since is None and self.memory.find(b"\n", offset + searched, offset + filled) >= 0:
                    waiting_since = time.monotonic()
                searched = filled
                if waiting_since is not None and not ready(waiting_since + LINGER - time.monotonic()):
                    break
            try:
                # One read at a time: a pipe hands over what it holds, and a
                # read error leaves what was read before it in the slot.
                got = read_some_into(reader, self.view[offset + filled:offset + size], name, fmt)
            except InputError as err:
                return filled, False, err
            if not got:
                return filled, True, None
            filled += got
        return filled, False, None


def _readiness(reader: Reader, fmt: str | None) -> Callable[[float], bool] | None:
    """ready(timeout), telling whether input waits or comes within `timeout` seconds, or None.

    Only for a pipe, socket or terminal read as it is: a file, or compressed
    data, never keeps a reader waiting for long.
    """
    if fmt is not None:
        return None
    try:
        fd = reader.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        return None
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return lambda timeout: bool(poller.poll(max(0, math.ceil(timeout * 1000))))


def _rest_of_line(head: bytes, reader: Reader, name: str, fmt: str | None, size: int) -> tuple[bytes, bytes | None]:
    """(the line that starts with `head`, what was read after it, or None at the end of the input).

    Reads `size` bytes at most at a time, so what comes after the line fits in a slot.
    """
    parts = [head]
    while True:
        more = read_some(reader, size, name, fmt)
        if not more:
            return b"".join(parts), None
        cut = more.find(b"\n") + 1
        if cut:
            parts.append(more[:cut])
            return b"".join(parts), more[cut:]
        parts.append(more)


# In each worker process: the chunk filter for the run's Spec, the ring, and
# how many bad lines a piece keeps.
_chunk_filter: ChunkFilter
_ring: memoryview
_ring_memory: mmap.mmap
_keep = KEEP_BAD
# The native scanner's filter, which writes a chunk's output straight into
# the worker's slot (BatchFilter's `into`), or None without the scanner or
# with fast=False; and the slot for the job being done with its offset in
# the pool's memory (see _work), None outside a worker.
_batch: BatchFilter | None = None
_slot: tuple[memoryview, int] | None = None


def _start_worker(spec: Spec, fast: bool, ring_memory: mmap.mmap, keep: int = KEEP_BAD) -> None:
    global _chunk_filter, _ring, _ring_memory, _keep, _batch
    # Ctrl-C reaches the whole process group; the main process alone handles
    # it, so a worker never prints a traceback or stops half way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The main process's SIGTERM handler raises SystemExit; a worker that is
    # told to stop just stops.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if fast:
        # function-level: saves start-up of the main process, which may filter no line itself
        from .batch import BatchFilter, native

        _batch = BatchFilter(spec) if native() else None
    # One filter for every piece, the ring's too: it is what chunk_filter_for
    # would make with the native scanner there.
    _chunk_filter = _batch or chunk_filter_for(spec, fast)
    _ring = memoryview(ring_memory)
    _ring_memory = ring_memory
    _keep = keep


def _piece_bytes(job: Job, ring: _Ring) -> bytes | memoryview:
    """The bytes a piece's job filters, read again in this process (-m's last piece)."""
    if job.func is _filter_slot:
        offset, length = job.args
        return ring.view[offset:offset + length]
    if job.func is _filter_bytes:
        return job.args[0]  # type: ignore[no-any-return]  # the line's bytes
    _, fd, _, start, end = job.args  # _filter_range, on a descriptor this process holds
    parts: list[bytes] = []
    with contextlib.suppress(OSError):  # the worker's read error: the records wanted came before it
        parts.extend(bytes(chunk) for chunk in _range_chunks(fd, start, end))
    return b"".join(parts)


def _filter_bytes(chunk: bytes, chunk_filter: ChunkFilter, keep: int) -> Outcome:
    """A line longer than a slot, filtered in the main process (it has no ring slot to hand over)."""
    return len(chunk), chunk_filter(chunk, keep), None, False


def _filter_slot(offset: int, length: int) -> Outcome:
    with _ring[offset:offset + length] as chunk:
        result = _chunk_filter(chunk, _keep)
    # The slot's pages stay in the ring, but leave this worker's resident
    # memory, which would otherwise grow to the whole ring in every worker.
    start = offset - offset % mmap.PAGESIZE
    _ring_memory.madvise(mmap.MADV_DONTNEED, start, offset + length - start)
    return length, result, None, False


def _filter_range(parent: int, fd: int, name: str, start: int, end: int | None) -> Outcome:
    """Filter the lines that start in [start, end) of the file `parent` has open as `fd` (end None: to its end).

    Returns (bytes read, ChunkResult, InputError or None, whether the file
    ended before `end`): after a read error, the result of the whole lines
    read before it. In a worker the chunks' outputs go one after the other
    into its slot while they fit, the native scanner's written there
    directly, so that they are not copied once joined and again into the
    slot: the result's output is then an _InSlot.
    """
    results = []
    size = 0
    error = None
    short = False
    slot = _slot
    written = 0  # the output in the slot so far
    try:
        # The parent's open file, not its path: the same file, whatever
        # happened to the path since it was opened.
        with open(f"/proc/{parent}/fd/{fd}", "rb", buffering=0) as f:
            at, end = _range_first(f.fileno(), start, end)
            for chunk in _chunks_from(f.fileno(), at, end):
                size += len(chunk)
                if slot is None:
                    results.append(_chunk_filter(chunk, _keep))
                    continue
                room = slot[0][written:]
                result = _batch(chunk, _keep, room) if _batch else _chunk_filter(chunk, _keep)
                # Bytes, not a memoryview of `room`: the output of another
                # path, or one the room could not hold.
                if not isinstance(result.output, memoryview):
                    if len(result.output) <= len(room):
                        room[:len(result.output)] = result.output
                    else:  # the piece's output comes back as bytes, joined (_work sees if it fits)
                        slot = None
                written += len(result.output)
                results.append(result)
            # Shorter now than when the range was cut: truncated while it was read.
            short = end is not None and at + size < end
    except OSError as err:
        error = InputError(name, f"read error: {err.strerror or err}")
    if not results:
        return size, _chunk_filter(b"", _keep), error, short
    if slot is None:
        return size, joined(results, _keep), error, short
    # Nothing is written in the slot after a chunk's output but the next one's: they follow one another
    # there, uncopied, and go back as where they are, as _work sends what it copies there.
    return size, joined(results, _keep, output=_InSlot(slot[1], written)), error, short  # type: ignore[arg-type]


def _range_chunks(fd: int, start: int, end: int | None) -> Iterator[memoryview]:
    """Chunks of the whole lines of `fd` that start in [start, end) (end None: to the file's end).

    A line belongs to the range it starts in: the tail of a line that
    started before `start` is skipped, and the last line is read past `end`
    to its newline. A BOM at the start of the file is dropped. Each chunk is
    a view of one read into one reused buffer (as inputs.file_chunks reads
    plain files), up to its last whole line, good until the next chunk is
    asked for; the next read starts after it. Raises OSError on a read
    error, after the chunks read before it.
    """
    return _chunks_from(fd, *_range_first(fd, start, end))


def _range_first(fd: int, start: int, end: int | None) -> tuple[int, int | None]:
    """(where the first line of the range [start, end) starts, the range's end), past a BOM at the file's start."""
    at = _line_start(fd, start)
    if at == 0 and os.pread(fd, len(BOM), 0) == BOM:
        at = len(BOM)
        if end is not None:  # the first line is still this range's, wherever the range ends
            end = max(end, at + 1)
    return at, end


def _chunks_from(fd: int, at: int, end: int | None) -> Iterator[memoryview]:
    """_range_chunks from `at`, where a line starts: the chunks follow one another from there."""
    buffer = bytearray(FILE_CHUNK_SIZE)
    view = memoryview(buffer)
    while end is None or at < end:
        got = os.preadv(fd, [view], at)
        if not got:
            return
        cut = 0
        if end is not None and end - at <= got:  # up to the end of the line at end - 1
            cut = buffer.find(b"\n", end - at - 1, got) + 1
        cut = cut or buffer.rfind(b"\n", 0, got) + 1
        if not cut:  # a line longer than a read, or the file's last line, without a newline
            line = bytes(view[:got]) + _to_line_end(fd, at + got)
            yield memoryview(line)
            at += len(line)
            continue
        yield view[:cut]
        at += cut


def _line_start(fd: int, at: int) -> int:
    """Where the first line that starts at or after `at` starts."""
    if at == 0:
        return 0
    at -= 1  # the line starts at `at` if the byte before it ends a line
    step = 4096  # most lines are short: read a little, then more
    while True:
        data = os.pread(fd, step, at)
        newline = data.find(b"\n")
        if newline >= 0:
            return at + newline + 1
        if not data:
            return at
        at += len(data)
        step = min(2 * step, CHUNK_SIZE)


def _to_line_end(fd: int, at: int) -> bytes:
    """The bytes from `at` to the end of the line there, its newline included, or to the file's end."""
    parts = []
    while data := os.pread(fd, CHUNK_SIZE, at):
        cut = data.find(b"\n") + 1
        if cut:
            parts.append(data[:cut])
            break
        parts.append(data)
        at += len(data)
    return b"".join(parts)
