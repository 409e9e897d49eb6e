"""The inputs a command line names: folders read whole (-r), and file lists (--files-from) read as the run goes.

Everything here is lazy: a folder is listed when the run reaches it, and a
list of paths is read a block at a time, so a list of millions of paths
costs no more memory than a short one. What cannot be listed comes as an
InputError in its place, which the run reports in its turn, as it reports
an input that cannot be opened.
"""
from __future__ import annotations

import os
import stat

from .inputs import STDIN, InputError, display_name

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Protocol, Union

    from typing_extensions import TypeAlias

    from .inputs import Listed

    # A path as the command line or a list gives it: str from argv, bytes from a list.
    Name: TypeAlias = Union[str, bytes]

    class ReadsBlocks(Protocol):
        """A binary reader: anything with read1 (a file, sys.stdin.buffer)."""

        def read1(self, size: int = ..., /) -> bytes: ...

LIST_BLOCK = 1 << 16  # bytes of a file list read at a time
NOT_RECURSIVE = "Is a directory; -r reads the files under it"


def inputs(operands: Iterable[Name], recursive: bool = False, follow: bool = False,
           listed: Iterable[Listed] = ()) -> Iterator[Listed]:
    """The run's inputs, in order: each operand, then each path of `listed`.

    With `recursive`, a folder is replaced by every regular file under it
    (see `walk`); a folder named on the command line or in a list is read
    even when it is a symbolic link, as grep -r reads one. Without it, a
    folder in a list is an InputError that suggests -r (on the command line,
    the caller refuses it before the run starts).
    """
    for group in (operands, listed):
        for name in group:
            if isinstance(name, InputError) or not isinstance(name, (str, bytes)) or name == STDIN:
                yield name
            elif name == "" or _is_folder(name):  # "": the working folder
                if recursive:
                    yield from walk(name, follow)
                else:
                    yield InputError(display_name(name), NOT_RECURSIVE)
            else:
                yield name


def _is_folder(name: Name) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name).st_mode)
    except (OSError, ValueError):  # not there (reported when it is opened), or a NUL in it
        return False


def walk(folder: Name, follow: bool = False) -> Iterator[Name | InputError]:
    """Every regular file under `folder`, each folder's entries in byte order of their names.

    A subfolder's files come where its name falls among its folder's
    entries, so the order is that of the paths compared key by key: `a/z`
    before `a.json` before `b/a`. Symbolic links met inside are not
    followed (a link to a file is skipped as well) unless `follow`; then a
    link back to a folder being walked is a loop, an InputError. Pipes,
    sockets and devices are skipped. A folder that cannot be listed is an
    InputError in its place. `folder` "" is the working folder, whose
    files are then named without "./".
    """
    # One iterator of sorted entries per level: no recursion, however deep the tree.
    stack: list[tuple[Name, Iterator[os.DirEntry[str] | os.DirEntry[bytes]], tuple[int, int] | None]] = []
    start = _listing(folder)
    if isinstance(start, InputError):
        yield start
        return
    stack.append((folder, start, _identity(folder)))
    while stack:
        entry = next(stack[-1][1], None)
        if entry is None:
            stack.pop()
            continue
        path = entry.path if stack[-1][0] else entry.name  # no "./" before the working folder's files
        try:
            if entry.is_dir(follow_symlinks=follow):
                here = _identity(path) if follow else None
                if here is not None and here in [ancestor for _, _, ancestor in stack]:
                    yield InputError(display_name(path), "recursive directory loop")
                    continue
                listing = _listing(path)
                if isinstance(listing, InputError):
                    yield listing
                else:
                    stack.append((path, listing, here))
            elif entry.is_file(follow_symlinks=follow):
                yield path
        except OSError as err:  # gone since it was listed, or a link that cannot be read
            yield InputError(display_name(path), err.strerror or str(err))


def _listing(folder: Name) -> Iterator[os.DirEntry[str] | os.DirEntry[bytes]] | InputError:
    found: list[os.DirEntry[str] | os.DirEntry[bytes]]
    try:
        with os.scandir(folder or ".") as entries:
            found = sorted(entries, key=lambda entry: os.fsencode(entry.name))
    except OSError as err:
        return InputError(display_name(folder or "."), err.strerror or str(err))
    return iter(found)


def _identity(folder: Name) -> tuple[int, int] | None:
    try:
        status = os.stat(folder or ".")
    except OSError:
        return None
    return status.st_dev, status.st_ino


def listed_paths(reader: ReadsBlocks, name: str, separator: bytes) -> Iterator[bytes | InputError]:
    """The paths of a file list, each ended by `separator` (b"\\n" or b"\\0"; the last one need not be).

    Read LIST_BLOCK bytes at a time. A path is bytes, exactly as listed (so
    `-` in a list is a file of that name, never stdin). An empty name is an
    InputError, `NAME:N: invalid zero-length file name`, as GNU du says it;
    so is a read error, which ends the list.
    """
    pending = b""
    number = 0
    while True:
        try:
            block = reader.read1(LIST_BLOCK)
        except OSError as err:
            yield InputError(name, f"read error: {err.strerror or err}")
            return
        if not block:
            break
        paths = (pending + block).split(separator)
        pending = paths.pop()
        for path in paths:
            number += 1
            yield _listed(path, name, number)
    if pending:
        yield _listed(pending, name, number + 1)


def _listed(path: bytes, name: str, number: int) -> bytes | InputError:
    if not path:
        return InputError(f"{name}:{number}", "invalid zero-length file name")
    return path  # bytes: b"-" is never STDIN


def inside(path: str, folders: Iterable[Name]) -> bool:
    """Whether the file `path` (there or not yet) lies under one of `folders`, so that -r would read it."""
    wanted = {_identity(folder) for folder in folders if _is_folder(folder)} - {None}
    here = os.path.dirname(os.path.realpath(path))
    while True:
        if _identity(here) in wanted:
            return True
        up = os.path.dirname(here)
        if up == here:
            return False
        here = up
