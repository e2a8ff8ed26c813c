"""A run's output folder: locked while a run writes to it, and written one whole file at a time."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from vaecore.errors import VaecoreError

LOCK = ".lock"

_held: set[Path] = set()  # folders this process holds: the CLI holds its folder around run()


class FolderLocked(VaecoreError):
    """Another process is writing into the folder."""


class OutputError(VaecoreError):
    """The folder cannot be created or written (read-only, full disk)."""


@contextlib.contextmanager
def locked(folder: str | Path) -> Iterator[Path]:
    """Create ``folder`` if need be and hold it for this process until the block ends.

    The lock is an ``flock`` on ``folder/.lock``, which holds the PID of its holder; the
    kernel releases it when the process ends, so a killed run leaves no folder locked.
    Taking it also checks that the folder can be written.

    Raises:
        FolderLocked: another process holds the folder (at once, without waiting).
        OutputError: the folder cannot be created or written.
    """
    folder = Path(folder)
    key = Path(os.path.realpath(folder))
    if key in _held:
        yield folder
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise _unwritable(folder, error) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise FolderLocked(f"{folder} is in use by another run (PID {pid}); wait for it to end, "
                               f"or choose another output folder") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            tempfile.TemporaryFile(dir=folder).close()  # the lock file may be writable in a read-only folder
        except OSError as error:
            raise _unwritable(folder, error) from None
        _held.add(key)
        try:
            yield folder
        finally:
            _held.discard(key)
    finally:
        os.close(fd)  # releases the lock


def writable(folder: Path) -> None:
    """Create ``folder`` if need be and check that a file can be written in it.

    Raises:
        OutputError: the folder cannot be created or written.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise _unwritable(folder, error) from None


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` by calling ``write`` on the open ``path.tmp``, then renaming it.

    A failed or interrupted write leaves the previous ``path`` as it was and no ``.tmp``.

    Raises:
        OutputError: the write failed (a full disk, a read-only folder).
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the rename must not outlive the data on a crash
        os.replace(tmp, path)
    except BaseException as error:
        cause = _os_error(error, path.parent)  # before the unlink frees the partial file's space
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if cause is not None:
            kept = f"the previous {path.name} is kept" if path.exists() else "nothing was written"
            raise OutputError(f"could not write {path.name} in {path.parent} ({cause.strerror or cause}); "
                              f"{kept}: free some space or fix the folder, then run again") from None
        raise


def _os_error(error: BaseException, folder: Path) -> OSError | None:
    """The failed system call behind a failed write, however the writing library wrapped it.

    torch.save reports a full disk as a RuntimeError ("unexpected pos"), raised while handling
    the OSError; a library that drops the OSError leaves a full disk to be seen as one.
    """
    if not isinstance(error, Exception):  # Ctrl-C stays Ctrl-C
        return None
    seen = error
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    with contextlib.suppress(OSError):
        if os.statvfs(folder).f_bavail == 0:
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return None


def _unwritable(folder: Path, error: OSError) -> OutputError:
    reason = "a file has that name" if isinstance(error, FileExistsError) else error.strerror or error
    return OutputError(f"cannot write to the output folder {folder} ({reason}); "
                       f"make it writable or choose another output folder")
