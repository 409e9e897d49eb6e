"""`-j N`: the same filtering in N worker processes, written in input order.

Work is cut into pieces. A plain regular file is cut into byte ranges that
the workers read themselves; anything else (stdin, a pipe, compressed data)
is read here, by one reader, into a ring of slots in memory shared with the
workers, so a piece is handed over as a slot number and a length, never
copied. Results are written strictly in the order the pieces were made, through
the same `stream.write_result` as the one-process path, so the output, the
messages and their FILE:LINE are the same whatever N is. At most a few pieces
per worker are in flight, so memory stays flat whatever the input size.
"""
import collections
import concurrent.futures
import mmap
import multiprocessing
import os
import signal
import stat
import time
from concurrent.futures.process import BrokenProcessPool

from .inputs import BOM, CHUNK_SIZE, STDIN, InputError, display_name, open_input, read_chunks, read_into, read_some
from .record import DEFAULT_SPEC
from .chunk import joined
from .stream import ON_ERROR_MODES, Counts, WorkerDied, chunk_filter_for, filter_stream, write_result

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
    # fork starts a worker in milliseconds, and the workers inherit the ring
    # of shared memory; elsewhere the default start method still works, and
    # the pieces read here are handed over as bytes.
    forked = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forked else None)
    # One slot more than there can be pieces in flight: the slot being filled.
    ring = _Ring(jobs * PIECES_PER_WORKER + 1) if forked else None
    executor = concurrent.futures.ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_start_worker, initargs=(spec, fast, ring and ring.memory))
    try:
        _run(executor, jobs, sources, out, on_error, report, counts, progress, ring)
    except BrokenProcessPool:  # from submit() or result(): a worker was killed
        raise WorkerDied("a worker process died; the output is incomplete") from None
    finally:
        # On the way out after a problem (a bad record with on_error="fail",
        # Ctrl-C, a closed pipe), queued pieces are dropped, not waited for.
        executor.shutdown(wait=True, cancel_futures=True)
    counts.seconds = time.perf_counter() - counts.started
    return counts


def _run(executor, jobs, sources, out, on_error, report, counts, progress, ring):
    sizes = _PieceSizes()
    writer = _InOrder(out, on_error, report, counts, progress, sizes)
    in_flight = collections.deque()
    # The ring's slots are reused in turn: a slot is filled again only once
    # the piece it held has been written, as at most jobs * PIECES_PER_WORKER
    # pieces are in flight when the next one is read.
    for number, name, kind, work in _pieces(sources, out, sizes, ring):
        if kind != "error":
            work = executor.submit(_WORKER_FUNCTIONS[kind], work)
        in_flight.append((number, name, kind, work))
        if len(in_flight) > jobs * PIECES_PER_WORKER:
            writer.finish(*in_flight.popleft())
    while in_flight:
        writer.finish(*in_flight.popleft())


class _PieceSizes:
    """The size of the next piece, from how much of the last one was selected."""

    def __init__(self):
        self.next = CHUNK_SIZE

    def written(self, size, result):
        output = len(result.output)
        if size:
            self.next = int(max(CHUNK_SIZE, min(MAX_PIECE, OUTPUT_BUDGET * size / max(output, 1))))


class _InOrder:
    """Writes the pieces' results in their turn, counting lines per input."""

    def __init__(self, out, on_error, report, counts, progress, sizes):
        self.out, self.on_error, self.report = out, on_error, report
        self.counts, self.progress, self.sizes = counts, progress, sizes
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
        self.sizes.written(size, result)
        self.lineno += write_result(result, name, self.lineno, self.out, self.on_error,
                                    self.report, self.counts)
        if self.progress:
            self.progress(size, result.lines)

    def _unreadable(self, number, error):
        self.unreadable = number
        self.counts.unreadable_inputs += 1
        self.report(error)


def _pieces(sources, out, sizes, ring=None):
    """Yield (source number, name, kind, work) for every piece of work, in input order.

    An input that is the regular file `out` writes to is an "error" piece, as in filter_stream.

    kind is "range" (work: path, name, start, end), "slot" (work: offset and
    length in the ring), "chunk" (work: bytes) or "error" (work: an
    InputError, reported in its turn).
    """
    for number, source in enumerate(list(sources) or [STDIN]):
        name = display_name(source)
        try:
            with open_input(source, out) as (reader, fmt):
                size = _plain_file_size(source, reader, fmt)
                if size is not None:
                    start = 0
                    while start < size:
                        end = min(start + sizes.next, size)
                        yield number, name, "range", (source, name, start, end)
                        start = end
                elif ring:
                    for kind, work in ring.pieces(reader, name, fmt, sizes):
                        yield number, name, kind, work
                else:
                    for chunk in _gathered(read_chunks(reader, name, fmt)):
                        yield number, name, "chunk", chunk
        except InputError as err:
            yield number, name, "error", err


class _Ring:
    """Slots of shared memory that the reader fills with whole lines, in turn."""

    def __init__(self, slots, slot_size=None):
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

    def pieces(self, reader, name, fmt, sizes=None):
        """Yield ("slot", (offset, length)) for whole lines read into the next slot.

        A slot is filled up to sizes.next bytes (a _PieceSizes), or whole. A
        line longer than a slot comes as ("chunk", bytes). The input's BOM is
        dropped, as read_chunks drops it. Raises InputError as read_chunks does.
        """
        tail = b""  # the start of a line, read into the slot before
        first = True
        while True:
            # The turn moves on only when a slot is handed out, so the pieces
            # in flight always hold the slots of the last turns.
            offset = self.slot_size * (self.turn % self.slots)
            wanted = min(self.slot_size, sizes.next) if sizes else self.slot_size
            # Room for a BOM and a byte after it, so the first read shows whether there is one.
            slot = self.view[offset:offset + max(wanted, len(tail) + 1, len(BOM) + 1)]
            slot[:len(tail)] = tail
            filled = len(tail) + read_into(reader, slot[len(tail):], name, fmt)
            start = 0
            if first:
                first = False
                if slot[:len(BOM)] == BOM:
                    start = len(BOM)
            if filled < len(slot):  # the end of the input
                if filled > start:
                    self.turn += 1
                    yield "slot", (offset + start, filled - start)
                return
            cut = self.memory.rfind(b"\n", offset + start, offset + filled) + 1 - offset
            if cut > 0:
                tail = bytes(slot[cut:filled])
                self.turn += 1
                yield "slot", (offset + start, cut - start)
            else:
                # A line longer than a slot: read on to its end.
                line, tail = _rest_of_line(bytes(slot[start:filled]), reader, name, fmt, len(slot))
                yield "chunk", line
                if tail is None:
                    return


def _rest_of_line(head, reader, name, fmt, size):
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


# In each worker process: the chunk filter for the run's Spec, and the ring.
_chunk_filter = None
_ring = None


def _start_worker(spec, fast, ring_memory):
    global _chunk_filter, _ring
    # Ctrl-C reaches the whole process group; the main process alone handles
    # it, so a worker never prints a traceback or stops half way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The main process's SIGTERM handler raises SystemExit; a worker that is
    # told to stop just stops.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _chunk_filter = chunk_filter_for(spec, fast)
    _ring = ring_memory and memoryview(ring_memory)


def _filter_piece(chunk):
    return len(chunk), _chunk_filter(chunk)


def _filter_slot(work):
    offset, length = work
    with _ring[offset:offset + length] as chunk:
        return length, _chunk_filter(chunk)


def _filter_range(work):
    """Filter the lines that start in [start, end) of a file: (bytes read, ChunkResult or InputError)."""
    path, name, start, end = work
    results = []
    size = 0
    try:
        with open(path, "rb") as f:
            if start:
                # A line belongs to the range it starts in: skip the tail of
                # the line that started in the range before.
                f.seek(start - 1)
                f.readline()
            at = f.tell()
            # Chunk by chunk, so that a worker's memory does not grow with the range.
            while at < end:
                chunk = f.read(min(CHUNK_SIZE, end - at))
                if not chunk:  # the file is shorter than it was
                    break
                if not chunk.endswith(b"\n"):
                    chunk += f.readline()
                if at == 0 and chunk.startswith(BOM):
                    chunk = chunk[len(BOM):]
                at = f.tell()
                size += len(chunk)
                results.append(_chunk_filter(chunk))
    except OSError as err:
        return 0, InputError(name, f"read error: {err.strerror or err}")
    return size, joined(results) if results else _chunk_filter(b"")


# The function a worker runs for each kind of piece.
_WORKER_FUNCTIONS = {"range": _filter_range, "slot": _filter_slot, "chunk": _filter_piece}
