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

    class Reader(Protocol):
        """What open_input yields and the readers here read: an io.BufferedIOBase."""

        def read1(self, size: int = ..., /) -> bytes: ...
        def readinto1(self, buffer: Buffer, /) -> int: ...
        def fileno(self) -> int: ...

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

ZSTD_READ_SIZE = 1 << 16  # compressed bytes decompressed at a time
STREAM_NAME = "<stream>"  # a file object without a name of its own


def _gzip(raw: BinaryIO) -> Reader:
    import gzip  # function-level: saves start-up, only gzip input needs it

    return gzip.GzipFile(fileobj=raw)


def _bzip2(raw: BinaryIO) -> Reader:
    import bz2  # function-level: saves start-up, only bzip2 input needs it

    return bz2.BZ2File(raw)


def _xz(raw: BinaryIO) -> Reader:
    import lzma  # function-level: saves start-up, only xz input needs it

    return lzma.LZMAFile(raw)


def _zstd(raw: BinaryIO) -> Reader:
    return io.BufferedReader(_ZstdReader(raw), CHUNK_SIZE)


# Magic number, format name, and the function giving the reader that decompresses it.
_FORMATS: dict[bytes, tuple[str, Callable[[BinaryIO], Reader]]] = {
    b"\x1f\x8b": ("gzip", _gzip),
    b"BZh": ("bzip2", _bzip2),
    b"\xfd7zXZ\x00": ("xz", _xz),
    b"\x28\xb5\x2f\xfd": ("zstd", _zstd),
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


class _ZstdReader(io.RawIOBase):
    """zstd frames one after another, decompressed; a stream that ends inside a frame raises ZstdError.

    zstandard's own stream_reader ends quietly at a truncated frame, which
    would lose the end of the input without a word.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard  # function-level: saves start-up, only zstd input needs it

        self._zstandard = zstandard
        self._raw = raw
        self._context = zstandard.ZstdDecompressor()
        self._frame: zstandard.ZstdDecompressionObj | None = None  # the frame being decompressed
        self._pending = memoryview(b"")
        self._error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        while not self._pending:
            if self._error:
                raise self._error
            # Small reads, so that what comes before damaged data is handed
            # out before the damage is found.
            data: bytes = self._raw.read1(ZSTD_READ_SIZE)  # type: ignore[attr-defined]  # a buffered reader
            if not data:
                if self._frame is not None:
                    raise self._zstandard.ZstdError("the data ends inside a frame")
                return 0
            pieces = []
            try:
                while data:
                    if self._frame is None:
                        self._frame = self._context.decompressobj()
                    pieces.append(self._frame.decompress(data))
                    data = b""
                    if self._frame.eof:
                        data = self._frame.unused_data
                        self._frame = None
            except self._zstandard.ZstdError as err:
                self._error = err  # raised once what came before it has been read
            self._pending = memoryview(b"".join(pieces))
        view = memoryview(buffer)
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


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


def source_list(sources: Source | Iterable[Source] | None) -> list[Source]:
    """The inputs as a list: `sources` is one (a path, "-", a file object) or several; none means stdin."""
    if sources is None:
        return [STDIN]
    if is_path(sources) or hasattr(sources, "read"):
        return [sources]  # type: ignore[list-item]  # one path or file object, not a list of them
    return list(sources) or [STDIN]


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


def would_overwrite(path: str, sources: Source | Iterable[Source] | None, output: object) -> str:
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
        return reader.readinto1(view)


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
