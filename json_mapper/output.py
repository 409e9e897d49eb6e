"""Writing to a file descriptor so that a signal never cuts a line in half.

SIGINT and SIGTERM are held back while a block of whole lines is being
written and take effect right after it, so whatever reached the output ends
at a line boundary.
"""
import os
import select
import signal

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
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return len(data)
