"""Atomic, durable file writes.

A ceremony must survive a pulled plug: every state change is a temporary
file, fsync, rename, then fsync of the directory, so a reader sees either
the old bytes or the new ones, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from ceremony.errors import BadInput, WorkspaceError

MiB = 1024 * 1024

FAULT_ENV = "CEREMONY_FAULT_FILE"
"""Fault injection for the crash tests: names a file holding a countdown.

Every write passes two fault points (before and after its rename, or in the
middle of an appended line and after it); the point that brings the
countdown to zero kills the process with SIGKILL, as a pulled plug would.
Unset in normal use, where the hook costs one environment lookup.
"""


def fault_point() -> None:
    path = os.environ.get(FAULT_ENV)
    if not path:
        return
    remaining = int(Path(path).read_text() or "0") - 1
    Path(path).write_text(str(remaining))
    if remaining == 0:
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_error(error: OSError, path: Path) -> WorkspaceError:
    """An OS error met while writing ``path``, in words with a fix.

    Read-only media, full disks and permissions are what a ceremony meets
    on sticks and laptops; each says what to do about the medium, and that
    the file was left as it was.
    """
    where = Path(path).parent
    kept = f"{path} was left as it was"
    if error.errno == errno.EROFS:
        return WorkspaceError(
            f"cannot write {path}: the medium is read-only; {kept}",
            f"make the medium holding {where} writable (the stick's lock switch, or "
            "mount it read-write), then run the command again",
        )
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return WorkspaceError(
            f"cannot write {path}: no space left on the medium; {kept}",
            f"free space on the medium holding {where}, or use a larger one, "
            "then run the command again",
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return WorkspaceError(
            f"cannot write {path}: permission denied; {kept}",
            f"let this user write to {where} (check its owner and permissions), "
            "then run the command again",
        )
    return WorkspaceError(
        f"cannot write {path}: {error.strerror or error}; {kept}",
        f"check the medium holding {where} (copy the workspace to sound media if it "
        "keeps failing), then run the command again",
    )


def write_atomic(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    With ``overwrite=False`` an existing file is never replaced: published
    metadata versions are immutable. An OS error becomes a WorkspaceError
    (see write_error) and the temporary file is removed: a reader finds the
    old bytes, never part of the new.
    """
    path = Path(path)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise write_error(error, path) from None
    tmp = Path(tmp_name)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        fault_point()
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise WorkspaceError(
                    f"{path} already exists and is never overwritten",
                    "publish a new version instead of replacing a published one",
                ) from None
            tmp.unlink()
        _fsync_dir(directory)
    except OSError as error:
        _remove_quietly(tmp)
        raise write_error(error, path) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    fault_point()


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def append_durable(path: Path, line: bytes) -> None:
    """Append one line to ``path`` and fsync it before returning.

    A line cut short by an OS error is cut off again, so the file ends with
    its last whole line; the error becomes a WorkspaceError.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        raise write_error(error, path) from None
    try:
        start = os.fstat(fd).st_size
        try:
            half = len(line) // 2
            _write_all(fd, line[:half])
            os.fsync(fd)
            fault_point()
            _write_all(fd, line[half:])
            os.fsync(fd)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
                os.fsync(fd)
            raise write_error(error, path) from None
    finally:
        with contextlib.suppress(OSError):  # the line is durable once fsynced
            os.close(fd)
    try:
        if created:
            _fsync_dir(path.parent)
    except OSError as error:
        raise write_error(error, path) from None
    fault_point()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_bounded(
    path: Path,
    limit: int,
    what: str,
    check: Callable[[os.stat_result], None] | None = None,
) -> bytes:
    """The bytes of a regular file no larger than ``limit``.

    Anything from outside (a stick, a bundle, a key file) may be hostile: a
    FIFO that never ends, ``/dev/zero``, a file larger than memory. Only a
    regular file is opened (without blocking, so a FIFO cannot hang the
    open), and never more than ``limit`` bytes are read. ``check`` sees the
    opened file's status first (owner, mode) and raises to refuse it.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise BadInput(
            f"cannot read {what} {path}: {error.strerror or error}",
            f"check that {path} exists and is readable",
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(
                f"{what} {path} is not a regular file",
                "give the path of an ordinary file (not a device, pipe or folder)",
            )
        if info.st_size > limit:
            raise BadInput(
                f"{what} {path} is {info.st_size} bytes, more than the {limit} this tool reads",
                f"check that {path} is the right file",
            )
        if check is not None:
            check(info)
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, MiB))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as error:
        if error.errno == errno.EISDIR:
            raise BadInput(f"{what} {path} is a folder", "give the path of a file") from None
        raise BadInput(
            f"cannot read {what} {path}: {error.strerror or error}",
            f"check the medium that holds {path}",
        ) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise BadInput(
            f"{what} {path} is larger than the {limit} bytes this tool reads",
            f"check that {path} is the right file",
        )
    return data
