"""Writing to a file descriptor so that a signal never cuts a line in half.

A SIGINT or SIGTERM that comes while a block of whole lines is being written
lets the line being written finish, then takes effect, so whatever reached
the output ends at a line boundary. A reader that stops reading could hold
that line back forever, so a second SIGINT or SIGTERM, or GRACE_SECONDS
after the first, takes effect at once, even in the middle of a line. When a
file's disk fills in the middle of a block, the part of the line that was
written is taken back, for the same reason.
"""
from __future__ import annotations

import os
import select
import signal
import stat

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import Callable, Union

    from typing_extensions import TypeAlias

    # What signal.signal takes and gives: a function, SIG_DFL or SIG_IGN, or
    # None for a handler not set from Python.
    Handler: TypeAlias = Union[Callable[[int, Union[FrameType, None]], object], int, signal.Handlers, None]

DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long a signal waits for the line being written to get out.
GRACE_SECONDS = 2.0


class LineBlockWriter:
    """A minimal binary writer over a file descriptor: `write(bytes)` writes it all."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def write(self, data: bytes | bytearray | memoryview) -> int:
        with _Deferral() as deferral:
            view = memoryview(data)
            at, end = 0, len(view)
            while at < end:
                try:
                    at += os.write(self.fd, view[at:end])
                except BlockingIOError:
                    # An O_NONBLOCK left on an inherited stdout: wait, rather
                    # than stop with half a line written.
                    select.select([], [self.fd], [])
                except OSError:
                    self._take_back(data, at)
                    raise
                if deferral.signum is not None and end == len(view):
                    end = _end_of_line(view, at)  # a signal came: finish this line, no more
        return len(data)

    def _take_back(self, data: bytes | bytearray | memoryview, written: int) -> None:
        """After a failed write (a full disk), remove the cut line at the end of
        what reached a regular file, so that the file still ends at a line boundary."""
        cut = written - (bytes(data[:written]).rfind(b"\n") + 1)
        if not cut:
            return
        try:
            end = os.lseek(self.fd, 0, os.SEEK_CUR)
            status = os.fstat(self.fd)
            # Only when nothing follows our bytes: never cut another writer's lines.
            if stat.S_ISREG(status.st_mode) and status.st_size == end:
                os.ftruncate(self.fd, end - cut)
                os.lseek(self.fd, end - cut, os.SEEK_SET)
        except OSError:
            pass  # not a file, or not ours to change: the write error is reported anyway


class _Deferral:
    """While a block is written: SIGINT and SIGTERM noted, and acted on when it is done.

    The handlers in place before (the command's, Python's, or the default)
    are put back on the way out, and then given the signal. A second signal,
    or GRACE_SECONDS after the first, gives it to them at once. Python runs
    signal handlers in the main thread only, so elsewhere nothing changes.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, Handler] = {}
        self.alarm: Handler = None  # the SIGALRM handler before ours, once the grace period runs

    def __enter__(self) -> _Deferral:
        for signum in DEFERRED_SIGNALS:
            handler = signal.getsignal(signum)
            if handler not in (signal.SIG_IGN, None):  # ignored, or not set from Python: left alone
                try:
                    self.previous[signum] = signal.signal(signum, self._note)
                except ValueError:
                    # Not the main thread, where alone handlers can be set (asking
                    # here rather than importing threading saves start-up).
                    break
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._restore()
        if self.signum is not None and kind is None:
            _act(self.signum, self.previous[self.signum])

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.alarm = signal.signal(signal.SIGALRM, self._insist)
            signal.setitimer(signal.ITIMER_REAL, GRACE_SECONDS)
        else:
            self._insist(signum, frame)

    def _insist(self, signum: int, frame: FrameType | None) -> None:
        """A second signal, or the grace period is over: the first signal acts now."""
        first = self.signum
        assert first is not None  # only called once a signal was noted
        self._restore()
        self.signum = None  # acted on here, not again on the way out
        _act(first, self.previous[first])

    def _restore(self) -> None:
        if self.alarm is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.alarm)
            self.alarm = None
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _end_of_line(view: memoryview, at: int) -> int:
    """Where the line being written ends, when the first `at` bytes of `view` are out."""
    if at == 0:
        return 0
    newline = view[at - 1:].tobytes().find(b"\n")
    return len(view) if newline < 0 else at + newline


def _act(signum: int, handler: Handler) -> None:
    """Do what `handler`, the handler before ours, would have done on `signum`."""
    if callable(handler):
        handler(signum, None)
    else:  # SIG_DFL: the default action, which for these two ends the process
        signal.raise_signal(signum)
