"""Atomic, durable file writes.

A ceremony must survive a pulled plug: every state change is a temporary
file, fsync, rename, then fsync of the directory, so a reader sees either
the old bytes or the new ones, never a mix.
"""

from __future__ import annotations

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


def write_atomic(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    With ``overwrite=False`` an existing file is never replaced: published
    metadata versions are immutable.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fault_point()


def append_durable(path: Path, line: bytes) -> None:
    """Append one line to ``path`` and fsync it before returning."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    with open(path, "ab") as handle:
        half = len(line) // 2
        handle.write(line[:half])
        handle.flush()
        os.fsync(handle.fileno())
        fault_point()
        handle.write(line[half:])
        handle.flush()
        os.fsync(handle.fileno())
    if created:
        _fsync_dir(path.parent)
    fault_point()


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
