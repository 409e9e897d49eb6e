"""Writing to a file descriptor so that a signal never cuts a line in half.

SIGINT and SIGTERM are held back while a block of whole lines is being
written and take effect right after it, so whatever reached the output ends
at a line boundary. When a file's disk fills in the middle of a block, the
part of the block that was written is taken back, for the same reason.
"""
import os
import select
import signal
import stat

DEFERRED_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class LineBlockWriter:
    """A minimal binary writer over a file descriptor: `write(bytes)` writes it all."""

    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd

    def write(self, data):
        old = signal.pthread_sigmask(signal.SIG_BLOCK, DEFERRED_SIGNALS)
        try:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(self.fd, view):]
                except BlockingIOError:
                    # An O_NONBLOCK left on an inherited stdout: wait, rather
                    # than stop with half a line written.
                    select.select([], [self.fd], [])
                except OSError:
                    self._take_back(data, len(data) - len(view))
                    raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return len(data)

    def _take_back(self, data, written):
        """After a failed write (a full disk), remove the cut line at the end of
        what reached a regular file, so that the file still ends at a line boundary."""
        cut = written - (data.rfind(b"\n", 0, written) + 1)
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
