"""`-j N`: the same filtering in N worker processes, written in input order.

Work is cut into pieces of about a chunk each. A plain regular file is cut
into byte ranges that the workers read themselves; anything else (stdin, a
pipe, compressed data) is read here, by one reader, and its chunks are handed
out. Results are written strictly in the order the pieces were made, through
the same `stream.write_result` as the one-process path, so the output, the
messages and their FILE:LINE are the same whatever N is. At most a few pieces
per worker are in flight, so memory stays flat whatever the input size.
"""
import collections
import concurrent.futures
import multiprocessing
import os
import signal
import stat
import time
from concurrent.futures.process import BrokenProcessPool

from .inputs import BOM, CHUNK_SIZE, STDIN, InputError, display_name, open_input, read_chunks
from .record import DEFAULT_SPEC
from .stream import ON_ERROR_MODES, Counts, WorkerDied, chunk_filter_for, filter_stream, write_result

# Pieces in flight per worker: enough to keep every worker busy while the
# results of the others are written.
PIECES_PER_WORKER = 4


def cpu_count():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def filter_parallel(sources, out, spec=DEFAULT_SPEC, on_error="warn", report=None, counts=None,
                    jobs=0, fast=True, progress=None):
    """`stream.filter_stream` in `jobs` worker processes (0: one per CPU); same arguments.

    Writes exactly what filter_stream writes and reports the same problems.
    Raises WorkerDied if a worker process dies. `progress`, if given, is
    called with (bytes, lines) after each piece is written.
    """
    if on_error not in ON_ERROR_MODES:
        raise ValueError(f"on_error must be one of {ON_ERROR_MODES}, not {on_error!r}")
    jobs = jobs or cpu_count()
    if jobs == 1:
        return filter_stream(sources, out, spec, on_error, report, counts, fast=fast, progress=progress)
    counts = counts if counts is not None else Counts()
    report = report or (lambda problem: None)
    methods = multiprocessing.get_all_start_methods()
    # fork starts a worker in milliseconds; elsewhere the default still works.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    executor = concurrent.futures.ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_start_worker, initargs=(spec, fast))
    try:
        _run(executor, jobs, sources, out, on_error, report, counts, progress)
    except BrokenProcessPool:  # from submit() or result(): a worker was killed
        raise WorkerDied("a worker process died; the output is incomplete") from None
    finally:
        # On the way out after a problem (a bad record with on_error="fail",
        # Ctrl-C, a closed pipe), queued pieces are dropped, not waited for.
        executor.shutdown(wait=True, cancel_futures=True)
    counts.seconds = time.perf_counter() - counts.started
    return counts


def _run(executor, jobs, sources, out, on_error, report, counts, progress):
    writer = _InOrder(out, on_error, report, counts, progress)
    in_flight = collections.deque()
    for number, name, kind, work in _pieces(sources, out):
        if kind != "error":
            function = _filter_range if kind == "range" else _filter_piece
            work = executor.submit(function, work)
        in_flight.append((number, name, kind, work))
        if len(in_flight) > jobs * PIECES_PER_WORKER:
            writer.finish(*in_flight.popleft())
    while in_flight:
        writer.finish(*in_flight.popleft())


class _InOrder:
    """Writes the pieces' results in their turn, counting lines per input."""

    def __init__(self, out, on_error, report, counts, progress):
        self.out, self.on_error, self.report = out, on_error, report
        self.counts, self.progress = counts, progress
        self.source = None  # the input being written
        self.lineno = 0  # its lines so far
        self.unreadable = None  # an input that failed part way: the rest of it is dropped

    def finish(self, number, name, kind, work):
        if number != self.source:
            self.source, self.lineno = number, 0
        if kind == "error":
            self._unreadable(number, work)
            return
        size, result = work.result()
        if number == self.unreadable:
            return
        if isinstance(result, InputError):
            self._unreadable(number, result)
            return
        self.counts.bytes_read += size
        self.lineno += write_result(result, name, self.lineno, self.out, self.on_error,
                                    self.report, self.counts)
        if self.progress:
            self.progress(size, result.lines)

    def _unreadable(self, number, error):
        self.unreadable = number
        self.counts.unreadable_inputs += 1
        self.report(error)


def _pieces(sources, out):
    """Yield (source number, name, kind, work) for every piece of work, in input order.

    An input that is the regular file `out` writes to is an "error" piece, as in filter_stream.

    kind is "range" (work: path, start, end), "chunk" (work: bytes) or
    "error" (work: an InputError, reported in its turn).
    """
    for number, source in enumerate(list(sources) or [STDIN]):
        name = display_name(source)
        try:
            with open_input(source, out) as (reader, fmt):
                size = _plain_file_size(source, reader, fmt)
                if size is not None:
                    for start in range(0, size, CHUNK_SIZE):
                        yield number, name, "range", (source, name, start, min(start + CHUNK_SIZE, size))
                else:
                    for chunk in _gathered(read_chunks(reader, name, fmt)):
                        yield number, name, "chunk", chunk
        except InputError as err:
            yield number, name, "error", err


def _gathered(chunks):
    """The chunks joined into pieces of at least CHUNK_SIZE bytes.

    A pipe hands over what it holds (often 64 KiB); a piece that small would
    cost more to hand to a worker than to filter here.
    """
    pending = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= CHUNK_SIZE:
            yield b"".join(pending)
            pending = []
            size = 0
    if pending:
        yield b"".join(pending)


def _plain_file_size(source, reader, fmt):
    """The size of an uncompressed regular file, which workers can read in ranges; else None."""
    if source == STDIN or fmt is not None:
        return None
    status = os.fstat(reader.fileno())
    return status.st_size if stat.S_ISREG(status.st_mode) else None


# In each worker process: the chunk filter for the run's Spec.
_chunk_filter = None


def _start_worker(spec, fast):
    global _chunk_filter
    # Ctrl-C reaches the whole process group; the main process alone handles
    # it, so a worker never prints a traceback or stops half way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The main process's SIGTERM handler raises SystemExit; a worker that is
    # told to stop just stops.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _chunk_filter = chunk_filter_for(spec, fast)


def _filter_piece(chunk):
    return len(chunk), _chunk_filter(chunk)


def _filter_range(work):
    """Filter the lines that start in [start, end) of a file: (bytes read, ChunkResult or InputError)."""
    path, name, start, end = work
    try:
        with open(path, "rb") as f:
            if start:
                # A line belongs to the range it starts in: skip the tail of
                # the line that started in the range before.
                f.seek(start - 1)
                f.readline()
            at = f.tell()
            if at >= end:
                return 0, _chunk_filter(b"")
            chunk = f.read(end - at)
            if not chunk.endswith(b"\n"):
                chunk += f.readline()
    except OSError as err:
        return 0, InputError(name, f"read error: {err.strerror or err}")
    if at == 0 and chunk.startswith(BOM):
        chunk = chunk[len(BOM):]
    return len(chunk), _chunk_filter(chunk)
