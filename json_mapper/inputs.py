"""Opening inputs and cutting them into chunks of whole lines.

gzip, bzip2, xz and zstd are recognised by their first bytes, so a
compressed stream on stdin works as well as a named `.gz` file; each
decompressor is imported only when its format is seen.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import select
import stat
import sys

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import IO, Any, BinaryIO, Protocol, Union

    from typing_extensions import Buffer, TypeAlias, TypeIs

    # A file named on the command line or by the caller.
    Path: TypeAlias = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

    class Readable(Protocol):
        """A binary file object: read from where it stands, and left open."""

        def read(self, size: int = ..., /) -> bytes: ...

    # An input: a path, "-" for stdin, a binary file object, or a text stream whose .buffer is read.
    Source: TypeAlias = Union[Path, Readable, IO[str]]
    # In a list of inputs, an InputError stands for one known to be unreadable
    # before its turn (a folder that cannot be listed): reported in its turn.
    Listed: TypeAlias = Union[Source, "InputError"]

    class Reader(Protocol):
        """What open_input yields and the readers here read: an io.BufferedIOBase."""

        def read1(self, size: int = ..., /) -> bytes: ...
        def readinto1(self, buffer: Buffer, /) -> int: ...
        def fileno(self) -> int: ...

    class Stream(Protocol):
        """One compressed stream decompressed step by step, as lzma.LZMADecompressor and bz2.BZ2Decompressor do."""

        @property
        def eof(self) -> bool: ...
        @property
        def needs_input(self) -> bool: ...
        @property
        def unused_data(self) -> bytes: ...
        def decompress(self, data: bytes, max_length: int, /) -> bytes: ...

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

STDIN = "-"
STDIN_NAME = "<stdin>"

# Large enough that per-chunk work is lost in the noise, small enough that a
# pipe keeps flowing (read1 returns what a pipe has, never waiting to fill it).
CHUNK_SIZE = 1 << 20
# A plain regular file is read into one buffer of this size, reused read
# after read: small enough to stay in a core's L2 cache between the kernel's
# copy into it and the scanner's pass over it.
FILE_CHUNK_SIZE = 1 << 18
# A pipe holds 64 KiB unless asked for more (Linux allows 1 MiB to anyone);
# a pipe that holds a chunk is read a chunk at a time.
PIPE_SIZE = 1 << 20

BOM = b"\xef\xbb\xbf"

# Compressed input is read this many bytes at a time, whatever a pipe holds,
# and each step of a decompressor gives at most STEP_SIZE bytes: the same
# steps however the reads that follow ask, so that damage is found at the
# same place by every -j, and memory stays flat whatever the ratio.
COMPRESSED_READ_SIZE = 1 << 16
STEP_SIZE = CHUNK_SIZE
STREAM_NAME = "<stream>"  # a file object without a name of its own


def _gzip(raw: BinaryIO) -> Reader:
    import zlib  # function-level: saves start-up, only gzip input needs it (the interpreter has it already)

    return _Decompressed(raw, "gzip", _GzipMember, zlib.error)


def _bzip2(raw: BinaryIO) -> Reader:
    import bz2  # function-level: saves start-up, only bzip2 input needs it

    return _Decompressed(raw, "bzip2", bz2.BZ2Decompressor, OSError)


def _xz(raw: BinaryIO) -> Reader:
    import lzma  # function-level: saves start-up, only xz input needs it

    return _Decompressed(raw, "xz", lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ), lzma.LZMAError)


def _zstd(raw: BinaryIO) -> Reader:
    import zstandard  # function-level: saves start-up, only zstd input needs it

    context = zstandard.ZstdDecompressor()
    return _Decompressed(raw, "zstd", lambda: _ZstdFrame(context), zstandard.ZstdError)


# Magic number, format name, and the function giving the reader that decompresses it.
_FORMATS: dict[bytes, tuple[str, Callable[[BinaryIO], Reader]]] = {
    b"\x1f\x8b": ("gzip", _gzip),
    b"BZh": ("bzip2", _bzip2),
    b"\xfd7zXZ\x00": ("xz", _xz),
    b"\x28\xb5\x2f\xfd": ("zstd", _zstd),
    # zstd's skippable frames (pzstd's output starts with one).
    **{bytes([n]) + b"\x2a\x4d\x18": ("zstd", _zstd) for n in range(0x50, 0x60)},
}
_OPENERS = dict(_FORMATS.values())
# Formats told apart from text, so that they get one message rather than a
# bad record per line of binary data.
_UNSUPPORTED = {
    b"\x04\x22\x4d\x18": "lz4",  # lz4 frame
    b"\x02\x21\x4c\x18": "lz4",  # lz4 legacy
    b"\xff\x06\x00\x00sNaPpY": "snappy",  # Snappy framing
}
MAGIC_SIZE = max(map(len, list(_FORMATS) + list(_UNSUPPORTED)))


def _decompression_errors(fmt: str) -> tuple[type[Exception], ...]:
    """What a damaged stream of `fmt` raises (looked up only when something was raised)."""
    errors: tuple[type[Exception], ...] = (EOFError, ValueError)
    if fmt == "gzip":
        import gzip  # function-level imports here: save start-up, only a failed read asks
        import zlib

        errors += (zlib.error, gzip.BadGzipFile)
    elif fmt == "xz":
        import lzma  # saves start-up

        errors += (lzma.LZMAError,)
    elif fmt == "zstd":
        import zstandard  # saves start-up

        errors += (zstandard.ZstdError,)
    return errors


# The unit of each format that may follow another, and whether NUL bytes may
# come between them: any number after a gzip member (as gzip allows), a
# multiple of four between xz streams (the format's stream padding).
_UNITS = {"gzip": ("member", 1), "bzip2": ("stream", 0), "xz": ("stream", 4), "zstd": ("frame", 0)}


class _Decompressed:
    """The streams of one compressed input, one after another, decompressed: a reader as open_input yields.

    Nothing is hidden: every stream (member, frame) is read, and whatever
    follows the last one that is not the start of another (stream padding
    aside) is damage, raised as ValueError or EOFError, as are a stream cut
    short and a damaged one. Python's own readers take such data for the end
    of the input (LZMAFile, BZ2File), and a BufferedReader drops the bytes a
    readinto1 had copied when its next read raises: here each read hands out
    decompressed bytes already in hand, and the damage is raised by the next
    read, once they are all out. Each step of the decompressor gives at
    most STEP_SIZE bytes, so a small file that decompresses to gigabytes
    takes no more memory than any other.
    """

    def __init__(self, raw: BinaryIO, fmt: str, new_stream: Callable[[], Stream], error: type[Exception]) -> None:
        self._raw = raw
        self._new_stream = new_stream
        self._unit, self._padding = _UNITS[fmt]
        self._errors = (error, ValueError, EOFError)  # what the streams raise at damage
        self._stream: Stream | None = None  # the stream being decompressed
        self._data = b""  # compressed bytes read and not yet given to a stream
        self._position = 0  # compressed bytes read so far
        self._streams = 0  # streams begun
        self._start = 0  # where the stream being decompressed began
        self._pending = b""  # decompressed bytes not yet handed out, from _at on
        self._at = 0
        self._error: Exception | None = None

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto1(self, buffer: Buffer, /) -> int:
        view = memoryview(buffer).cast("B")
        if self._at == len(self._pending) and not self._refill():
            return 0
        size = min(len(view), len(self._pending) - self._at)
        view[:size] = memoryview(self._pending)[self._at:self._at + size]
        self._at += size
        return size

    def read1(self, size: int = -1, /) -> bytes:
        if self._at == len(self._pending) and not self._refill():
            return b""
        if self._at == 0 and (size < 0 or size >= len(self._pending)):
            data = self._pending
        else:
            size = size if size >= 0 else len(self._pending)
            data = self._pending[self._at:self._at + size]
        self._at += len(data)
        return data

    def _refill(self) -> bool:
        """Decompress the next step into _pending: False at the end of the input, else True."""
        if self._error is not None:
            raise self._error
        try:
            self._pending = self._step()
        except (ValueError, EOFError) as err:
            self._error = err
            raise
        self._at = 0
        return bool(self._pending)

    def _read(self) -> bytes:
        """The next COMPRESSED_READ_SIZE bytes (fewer only at the end): a pipe is read until they have come."""
        data = self._raw.read(COMPRESSED_READ_SIZE)
        self._position += len(data)
        return data

    def _step(self) -> bytes:
        """Up to STEP_SIZE decompressed bytes, b"" at the end; raises ValueError or EOFError at damage."""
        while True:
            stream = self._stream
            if stream is None:
                stream = self._next_stream()
                if stream is None:
                    return b""
            data = b""
            if stream.needs_input:
                data, self._data = self._data or self._read(), b""
                if not data:
                    raise self._damage("Compressed file ended before the end-of-stream marker was reached")
            try:
                out = stream.decompress(data, STEP_SIZE)
            except self._errors as err:
                raise self._damage(str(err)) from None
            if stream.eof:
                self._data = stream.unused_data
                self._stream = None
            if out:
                return out

    def _next_stream(self) -> Stream | None:
        """A decompressor for the stream that comes next, or None at the end of the input."""
        nuls = 0
        while True:
            if not self._data:
                self._data = self._read()
            if self._padding and self._data[:1] == b"\0":
                stripped = self._data.lstrip(b"\0")
                nuls += len(self._data) - len(stripped)
                self._data = stripped
                continue
            break
        if nuls % self._padding if self._padding else 0:
            self._start = self._position - len(self._data) - nuls
            raise self._damage(f"{nuls} bytes of stream padding, not a multiple of {self._padding}", self._streams)
        if not self._data:
            return None
        self._start = self._position - len(self._data)
        self._streams += 1
        self._stream = self._new_stream()
        return self._stream

    def _damage(self, message: str, whole: int | None = None) -> ValueError:
        """The error for damage in the stream being read (or after `whole` streams): where, after the first."""
        whole = self._streams - 1 if whole is None else whole
        if whole:
            message += f" (after {whole} whole {self._unit}{'s' * (whole > 1)}, at byte {self._start})"
        return ValueError(message)


class _GzipMember:
    """One gzip member, decompressed by zlib (header and trailer checked) with a Stream's interface."""

    def __init__(self) -> None:
        import zlib  # function-level: saves start-up, only gzip input needs it (the interpreter has it already)

        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.needs_input = True

    @property
    def eof(self) -> bool:
        return self._zlib.eof

    @property
    def unused_data(self) -> bytes:
        return self._zlib.unused_data

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._zlib.decompress(self._zlib.unconsumed_tail + data, max_length)
        # A full step may leave output to come even with all the input taken.
        self.needs_input = not self._zlib.unconsumed_tail and len(out) < max_length
        return out


_ZSTD_MAGIC = 0xFD2FB528
_ZSTD_SKIPPABLE = 0x184D2A50  # the magic numbers of skippable frames: these 16 values
_ZSTD_BLOCK_MAX = 1 << 17  # the most one block decompresses to


class _ZstdFrame:
    """One zstd frame, or a skippable frame, decompressed with a Stream's interface.

    zstandard's decompressobj puts no bound on what one call gives, nor says
    when the input ends inside a frame; but a frame is a header and blocks
    whose headers give their sizes, and each block decompresses to 128 KiB
    at most. So the blocks are found here and handed over a few whole ones
    at a time, and the frame is over when its last block (and checksum) is.
    """

    def __init__(self, context: Any) -> None:
        self._context = context  # a zstandard.ZstdDecompressor
        self._obj: Any = None  # zstandard's decompressobj, once the header is known
        self._input = bytearray()  # compressed bytes not yet decompressed
        self._skip = -1  # the bytes of a skippable frame still to pass over
        self._checksum = False  # whether a checksum follows the last block
        self._last = False  # whether the last block has been seen
        self.eof = False
        self.needs_input = True
        self.unused_data = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        buf = self._input
        buf += data
        at = 0
        if self._obj is None and self._skip < 0:  # the frame's header
            if len(buf) < 5:
                return self._wait(at)
            magic = int.from_bytes(buf[:4], "little")
            if magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE:
                if len(buf) < 8:
                    return self._wait(at)
                self._skip = int.from_bytes(buf[4:8], "little")
                at = 8
            elif magic == _ZSTD_MAGIC:
                descriptor = buf[4]
                size = (6 - (descriptor >> 5 & 1) + (0, 1, 2, 4)[descriptor & 3]
                        + (descriptor >> 5 & 1, 2, 4, 8)[descriptor >> 6])
                if len(buf) < size:
                    return self._wait(at)
                self._checksum = bool(descriptor & 4)
                self._obj = self._context.decompressobj()
                at = size
            else:
                raise ValueError("not a zstd frame (unknown magic number)")
        if self._skip >= 0:
            passed = min(self._skip, len(buf) - at)
            self._skip -= passed
            at += passed
            if self._skip:
                return self._wait(at)
            return self._end(at, b"")
        blocks = 0
        end = at
        while not self._last and blocks * _ZSTD_BLOCK_MAX < max_length and len(buf) >= end + 3:
            header = int.from_bytes(buf[end:end + 3], "little")
            last = bool(header & 1)
            # An RLE block holds one byte; the checksum comes with the last block.
            size = 3 + (1 if header >> 1 & 3 == 1 else header >> 3) + 4 * (last and self._checksum)
            if len(buf) < end + size:
                break
            end += size
            blocks += 1
            self._last = last
        out: bytes = self._obj.decompress(bytes(buf[:end])) if end else b""
        if self._last:
            if not self._obj.eof:
                raise ValueError("the frame goes on after its last block")
            return self._end(end, out)
        self.needs_input = blocks * _ZSTD_BLOCK_MAX < max_length  # else more whole blocks may be here
        del buf[:end]
        return out

    def _wait(self, at: int) -> bytes:
        """Nothing decompressed: more input is needed (the first `at` bytes are used up)."""
        del self._input[:at]
        self.needs_input = True
        return b""

    def _end(self, at: int, out: bytes) -> bytes:
        """The frame is over at byte `at`: what follows is for the next one."""
        self.unused_data = bytes(self._input[at:])
        self._input = bytearray()
        self.eof = True
        return out


class InputError(Exception):
    """An input that cannot be read: missing, a directory, or a corrupt stream."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # Raised in -j worker processes and sent back: rebuilt from both arguments.
        return type(self), (self.name, self.message)


def compression_of(head: bytes) -> str | None:
    """The compression format whose magic number starts `head` ("gzip", ...), or None."""
    for magic, (fmt, _) in _FORMATS.items():
        if head.startswith(magic):
            return fmt
    return None


def unsupported_compression_of(head: bytes) -> str | None:
    """The format not read here ("lz4", "snappy") whose magic number starts `head`, or None."""
    for magic, fmt in _UNSUPPORTED.items():
        if head.startswith(magic):
            return fmt
    return None


def is_path(source: object) -> TypeIs[Path]:
    """Whether `source` names a file (or "-"), rather than being a file object."""
    return isinstance(source, (str, bytes, os.PathLike))


def source_list(sources: Source | Iterable[Listed] | None) -> Iterable[Listed]:
    """The inputs in order: `sources` is one (a path, "-", a file object) or a list; None or [] means stdin.

    Any other iterable (a file list, a folder's walk) is taken one input at a
    time, as the run comes to it, and an empty one is no input at all.
    """
    if sources is None:
        return [STDIN]
    if is_path(sources) or hasattr(sources, "read"):
        return [sources]  # type: ignore[list-item]  # one path or file object, not a list of them
    if isinstance(sources, (list, tuple)):
        return list(sources) or [STDIN]
    return sources


def display_name(source: Source) -> str:
    """The input's name in messages."""
    if not is_path(source):
        name = getattr(source, "name", None)
        return name if isinstance(name, str) else STREAM_NAME
    return STDIN_NAME if source == STDIN else os.fsdecode(source)


def regular_file_status(source: object) -> os.stat_result | None:
    """The os.stat_result of `source` if it is a regular file, else None (a pipe, a terminal, a directory...).

    `source` is a path (not "-"), or a file object: anything with fileno().
    Only a regular file may be read ahead, or cut into ranges: what is read
    from a pipe (a FIFO, `<(command)`) is gone for the run. Raises OSError if
    a path cannot be looked at; an object without a descriptor gives None.
    """
    if is_path(source):
        status = os.stat(source)
    else:
        try:
            status = os.fstat(source.fileno())  # type: ignore[attr-defined]  # AttributeError is caught
        except (AttributeError, OSError, ValueError):
            return None
    return status if stat.S_ISREG(status.st_mode) else None


def _regular_file_id(f: object) -> tuple[int, int] | None:
    """(device, inode) of the regular file at path `f`, or that file object `f` reads or writes, else None.

    Raises OSError if a path cannot be looked at.
    """
    status = regular_file_status(f)
    return None if status is None else (status.st_dev, status.st_ino)


def would_overwrite(path: str, sources: Source | Iterable[Listed] | None, output: object) -> str:
    """What the run would destroy by creating or truncating `path`: "an input", "the output" or "" (nothing).

    Compares regular files by device and inode, so any spelling of the same
    file counts (`./data.json`, a hard link, stdin redirected from it).
    """
    try:
        here = _regular_file_id(path)
    except OSError:  # not there yet (or not to be looked at): opening it says what is wrong
        return ""
    if here is None:
        return ""
    for source in source_list(sources):
        try:
            if here == _regular_file_id(sys.stdin if source == STDIN else source):
                return "an input"
        except OSError:  # an input that is not there is reported when its turn comes
            continue
    return "the output" if here == _regular_file_id(output) else ""


@contextlib.contextmanager
def open_input(source: Source, output: object = None) -> Iterator[tuple[Reader, str | None]]:
    """Open FILE, "-" or a binary file object for binary reading, decompressing when the content says so.

    Yields (reader, format), where format is None for plain text. A file
    object is read from where it stands and left open. Raises InputError if
    the input cannot be opened, is compressed in a format not read here, or
    is the regular file `output` (a file object or anything with fileno())
    writes to.
    """
    name = display_name(source)
    detach = None
    raw: Any  # the caller's file object, sys.stdin.buffer or a file: a buffered binary reader
    if not is_path(source):
        raw = source.buffer if isinstance(source, io.TextIOBase) else source  # type: ignore[attr-defined]  # a text stream has .buffer
        close = False
        if not hasattr(raw, "peek"):  # io.BytesIO, a socket file: buffered here
            raw = detach = io.BufferedReader(raw)
    elif source == STDIN:
        if sys.stdin is None:  # fd 0 was closed before we started
            raise InputError(name, os.strerror(errno.EBADF))
        raw = sys.stdin.buffer
        close = False
        # An O_NONBLOCK left on an inherited stdin makes "nothing yet" read as
        # the end of the input, and the rest would be lost without a word.
        with contextlib.suppress(OSError):
            os.set_blocking(raw.fileno(), True)
    else:
        try:
            raw = open(source, "rb")  # noqa: SIM115 (closed in the `finally` below)
        except OSError as err:
            raise InputError(name, err.strerror or str(err)) from None
        close = True
    try:
        _enlarge_pipe(raw)
        # Like cat: reading a file while appending to it would never end.
        here = _regular_file_id(raw)
        if here is not None and here == _regular_file_id(output):
            raise InputError(name, "input file is output file")
        try:
            head = raw.peek(MAGIC_SIZE)[:MAGIC_SIZE]
        except OSError as err:  # e.g. a directory: open() works, reading does not
            raise InputError(name, err.strerror or str(err)) from None
        unsupported = unsupported_compression_of(head)
        if unsupported:
            raise InputError(name, f"{unsupported} compressed input is not supported")
        fmt = compression_of(head)
        if fmt == "zstd":
            try:
                import zstandard  # noqa: F401 (a dependency, but say so if it is gone; here, not at the top, to save start-up)
            except ImportError:
                raise InputError(name, "zstd compressed input needs the zstandard package") from None
        yield (_OPENERS[fmt](raw) if fmt else raw), fmt
    finally:
        if close:
            raw.close()
        elif detach is not None:
            detach.detach()  # the caller's object stays open


def _enlarge_pipe(raw: object) -> None:
    """Ask for a pipe of PIPE_SIZE when `raw` reads a pipe (Linux), so it is read in large gulps."""
    try:
        fd = raw.fileno()  # type: ignore[attr-defined]  # AttributeError is caught
        if (stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl and hasattr(fcntl, "F_SETPIPE_SZ")
                and fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) < PIPE_SIZE):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (AttributeError, OSError, ValueError):
        pass  # over the user's limit for pipes, or no pipe at all: read it as it is


def read_chunks(reader: Reader, name: str, fmt: str | None = None,
                chunk_size: int | None = None) -> Iterator[bytes | memoryview]:
    """Yield chunks of whole lines: each ends with b"\\n", except perhaps the last.

    A UTF-8 BOM at the start of the input is dropped. A line longer than
    `chunk_size` (CHUNK_SIZE, or FILE_CHUNK_SIZE for a plain regular file)
    comes whole, in one larger chunk. Raises InputError if the input fails
    part way (a read error, a damaged compressed stream); the chunks before
    the damage have been yielded by then.

    A plain regular file (read through a BufferedReader, as open_input
    opens one) is read by file_chunks: its chunks are views of one buffer,
    each good until the next one is asked for.
    """
    if fmt is None and type(reader) is io.BufferedReader and regular_file_status(reader) is not None:
        yield from file_chunks(reader, name, chunk_size or FILE_CHUNK_SIZE)
        return
    chunk_size = chunk_size or CHUNK_SIZE
    pending: list[bytes] = []  # pieces of a line not yet ended
    first = True
    while True:
        data = read_available(reader, chunk_size, name, fmt)
        if first:
            first = False
            # A pipe may hand over the BOM in pieces; read until it is whole.
            while data and len(data) < len(BOM) and BOM.startswith(data):
                more = read_some(reader, len(BOM) - len(data), name, fmt)
                if not more:
                    break
                data += more
            if data.startswith(BOM):
                data = data[len(BOM):]
                if not data:
                    continue  # the BOM came in a read of its own: the input goes on
        if not data:
            break
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            pending.append(data)
            continue
        if pending:
            pending.append(data[:cut])
            yield b"".join(pending)
            pending = []
        else:
            yield data[:cut] if cut < len(data) else data
        if cut < len(data):
            pending.append(data[cut:])
    if pending:
        yield b"".join(pending)


def file_chunks(reader: Reader, name: str, chunk_size: int = FILE_CHUNK_SIZE) -> Iterator[memoryview]:
    """read_chunks for a plain regular file: chunks of whole lines, each a view of one reused buffer.

    Each read goes straight into the buffer, after the start of a line the
    last read left unfinished (moved to the front: less than a line), so no
    chunk is copied on its way and the buffer stays in the CPU's cache. A
    chunk is good only until the next one is asked for. Plain reads, not
    mmap: a file truncated while mapped would kill the process with SIGBUS,
    where a read just ends early. Raises InputError as read_chunks does.
    """
    reader = direct(reader, None)
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    held = 0  # the bytes at the front of the buffer: the start of a line not yet ended
    start = -1  # where the data starts in the buffer once a BOM has been looked for; -1: not yet
    while True:
        if held == len(buffer):  # a line longer than the buffer: read on into one twice as large
            buffer, view = _moved(view, held, 2 * len(buffer))
        elif held < chunk_size < len(buffer):  # back to the buffer's size once a long line is done
            buffer, view = _moved(view, held, chunk_size)
        got = read_some_into(reader, view[held:], name)
        held += got
        if start < 0 and (not got or held >= len(BOM) or not BOM.startswith(bytes(view[:held]))):
            # The file's first bytes, once they show whether they start with a BOM.
            start = len(BOM) if view[:len(BOM)] == BOM and held >= len(BOM) else 0
        if got and held < len(buffer):
            # A short read: the bytes open_input peeked at, or the end of the
            # file is near. Read on, so that chunks stay large.
            continue
        cut = buffer.rfind(b"\n", max(start, 0), held) + 1 if got else 0
        if not cut:
            if got:
                continue  # no line ends here yet
            break
        yield view[start:cut]
        # The consumer is done with the chunk: the unfinished line moves to the front.
        view[:held - cut] = view[cut:held]
        held -= cut
        start = 0
    if held > max(start, 0):
        yield view[max(start, 0):held]


def _moved(view: memoryview, held: int, size: int) -> tuple[bytearray, memoryview]:
    """A new buffer of `size` bytes holding the first `held` bytes of `view`, and a view of it."""
    buffer = bytearray(size)
    buffer[:held] = view[:held]
    return buffer, memoryview(buffer)


def read_some(reader: Reader, size: int, name: str, fmt: str | None = None) -> bytes:
    """At most `size` bytes from one read of `reader` (b"" at its end); raises InputError as read_chunks does."""
    with _read_errors(name, fmt):
        return reader.read1(size)


def read_available(reader: Reader, size: int, name: str, fmt: str | None = None) -> bytes:
    """Up to `size` bytes: one read, then more while more is there already (b"" at the end).

    A pipe hands over what it holds at each read; reading on while the
    writer has written more makes chunks larger without ever waiting for
    input that has not come. Raises InputError as read_chunks does.
    """
    data = read_some(reader, size, name, fmt)
    if not data or len(data) >= size or fmt is not None:
        return data
    try:
        fd = reader.fileno()
    except (AttributeError, OSError, ValueError):
        return data  # not a file descriptor: one read it is
    pieces = [data]
    got = len(data)
    # After a short read1 the reader's buffer is empty, so the descriptor
    # tells whether more is there.
    while got < size and _ready(fd):
        more = read_some(reader, size - got, name, fmt)
        if not more:
            break  # the end: the next read says so again
        pieces.append(more)
        got += len(more)
    return b"".join(pieces) if len(pieces) > 1 else data


def _ready(fd: int) -> bool:
    """Whether a read of `fd` would return at once."""
    try:
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        return bool(poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() (Windows), or not pollable
        return False


def read_some_into(reader: Reader, view: memoryview, name: str, fmt: str | None = None) -> int:
    """Read at most len(view) bytes, in one read, into the writable buffer `view`; return how many (0 at the end).

    For a reader from `direct`, the read is one system call straight into
    `view`. Raises InputError as read_chunks does.
    """
    with _read_errors(name, fmt):
        if isinstance(reader, (_Direct, _Decompressed)):
            return reader.readinto1(view)
        # A BufferedReader's readinto1, asked for more than its buffer, copies
        # what the buffer holds and reads on: when that read raises, the bytes
        # copied are lost. Its read1 hands over what it holds, and no more.
        data = reader.read1(len(view))
        view[:len(data)] = data
        return len(data)


class _Direct:
    """A plain reader's file descriptor, read straight into the caller's buffer: one system call a read.

    What the BufferedReader holds already (the bytes open_input peeked at)
    comes first, through its read1: a read1 that comes back short has taken
    all it held. Its own readinto1 would hand those over and then read the
    descriptor once more, waiting on a quiet pipe with a whole line in hand;
    its read1 makes a bytes object as large as asked, which a short read
    shrinks, and, read after read of a fast pipe, the holes those leave make
    the heap grow without end.
    """

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.fd = reader.fileno()
        self.holding = True  # whether the BufferedReader may still hold bytes

    def fileno(self) -> int:
        return self.fd

    def readinto1(self, buffer: Buffer, /) -> int:
        view = memoryview(buffer)
        if self.holding:
            data = self.read1(len(view))
            view[:len(data)] = data
            return len(data)
        return os.readv(self.fd, [view])

    def read1(self, size: int = -1, /) -> bytes:
        size = size if size >= 0 else CHUNK_SIZE
        if self.holding:
            data = self.reader.read1(size)
            self.holding = 0 < len(data) == size
            return data
        return os.read(self.fd, size)


def direct(reader: Reader, fmt: str | None) -> Reader:
    """`reader`, or for plain data read from a file descriptor through a BufferedReader, a _Direct reader of it.

    Only the returned reader may be read from then on.
    """
    if fmt is not None or not hasattr(reader, "peek") or not hasattr(os, "readv"):
        return reader
    try:
        reader.fileno()
    except (AttributeError, OSError, ValueError):  # no descriptor (io.BytesIO)
        return reader
    return _Direct(reader)


@contextlib.contextmanager
def _read_errors(name: str, fmt: str | None) -> Iterator[None]:
    """Read errors and damaged compressed data, as InputError."""
    try:
        yield
    except (_decompression_errors(fmt) if fmt else ()) as err:  # noqa: B030 (a tuple of classes, asked for late)
        raise InputError(name, f"corrupt {fmt} data: {err}") from None
    except OSError as err:
        what = f"corrupt {fmt} data" if fmt else "read error"
        raise InputError(name, f"{what}: {err.strerror or err}") from None
