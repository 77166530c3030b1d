"""Read-only media, full disks and permissions while writing.

Real conditions where the machine allows them: a tmpfs of 64 KiB filled to
the brim (ENOSPC), the same remounted read-only (EROFS), and a child
process running as an unprivileged user (EACCES). They need root (mount,
setuid) and are skipped without it. Errors no test can cause for real (an
I/O error at fsync) are simulated by monkeypatching os.fsync.

After every failure the file is as it was, no temporary file is left, an
appended transcript ends with its last whole line, and the error is a
WorkspaceError naming the path with a fix in words.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ceremony import fsutil
from ceremony.errors import WorkspaceError
from ceremony.fsutil import append_durable, write_atomic

REPO = Path(__file__).resolve().parent.parent
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def tiny_medium(tmp_path):
    """A 64 KiB tmpfs: a USB stick that fills up, or is locked read-only."""
    mount_point = tmp_path / "stick"
    mount_point.mkdir()
    if not IS_ROOT:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> None:
    """Write until the medium is full."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_full_disk_while_replacing(tiny_medium):
    target = tiny_medium / "root.json"
    target.write_bytes(b"old")
    _fill(tiny_medium)
    with pytest.raises(WorkspaceError) as raised:
        write_atomic(target, b"new" * 20_000)
    error = raised.value
    assert "no space left" in error.problem and str(target) in error.problem
    assert "free space" in error.fix and str(tiny_medium) in error.fix
    assert target.read_bytes() == b"old"
    assert _leftovers(tiny_medium) == []


def test_full_disk_while_appending(tiny_medium):
    log = tiny_medium / "record.jsonl"
    log.write_bytes(b'{"n":1}\n')
    _fill(tiny_medium)
    with pytest.raises(WorkspaceError, match="no space left"):
        append_durable(log, b'{"n":2,"pad":"' + b"x" * 40_000 + b'"}\n')
    assert log.read_bytes() == b'{"n":1}\n', "the half-written line was cut off"


def test_read_only_medium(tiny_medium):
    target = tiny_medium / "staged" / "root.json"
    target.parent.mkdir()
    target.write_bytes(b"old")
    log = tiny_medium / "record.jsonl"
    log.write_bytes(b"line\n")
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_medium)], check=True)
    with pytest.raises(WorkspaceError) as raised:
        write_atomic(target, b"new")
    assert "read-only" in raised.value.problem and str(target) in raised.value.problem
    assert "writable" in raised.value.fix
    with pytest.raises(WorkspaceError, match="read-only"):
        write_atomic(tiny_medium / "new-folder" / "x.json", b"new")
    with pytest.raises(WorkspaceError, match="read-only"):
        append_durable(log, b"more\n")
    assert target.read_bytes() == b"old" and log.read_bytes() == b"line\n"
    assert _leftovers(target.parent) == []


_AS_NOBODY = """
import os, sys
from ceremony.errors import WorkspaceError
from ceremony.fsutil import append_durable, write_atomic
os.setgid(65534); os.setuid(65534)
target = sys.argv[1]
for action in (lambda: write_atomic(target, b"new"), lambda: append_durable(target, b"x\\n")):
    try:
        action()
    except WorkspaceError as error:
        print(error.message())
    else:
        print("WROTE")
"""


def test_permission_denied(tmp_path):
    if not IS_ROOT:
        pytest.skip("becoming an unprivileged user needs root")
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o755)
    target = folder / "root.json"
    target.write_bytes(b"old")
    tmp_path.chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-c", _AS_NOBODY, str(target)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "WROTE" not in result.stdout
    assert result.stdout.count("permission denied") == 2, result.stdout
    assert f"let this user write to {folder}" in result.stdout
    assert target.read_bytes() == b"old"
    assert _leftovers(folder) == []


def test_io_error_at_fsync_removes_the_temporary_file(tmp_path, monkeypatch):
    """Simulated: no test can make a disk fail for real."""
    target = tmp_path / "root.json"
    target.write_bytes(b"old")

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fsutil.os, "fsync", failing_fsync)
    with pytest.raises(WorkspaceError) as raised:
        write_atomic(target, b"new")
    assert "Input/output error" in raised.value.problem
    assert "sound media" in raised.value.fix
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []
    log = tmp_path / "record.jsonl"
    log.write_bytes(b"whole\n")
    with pytest.raises(WorkspaceError, match="Input/output error"):
        append_durable(log, b"cut short\n")
    assert log.read_bytes() == b"whole\n"


def test_never_overwritten_is_still_its_own_error(tmp_path):
    target = tmp_path / "1.root.json"
    target.write_bytes(b"published")
    with pytest.raises(WorkspaceError, match="never overwritten"):
        write_atomic(target, b"other", overwrite=False)
    assert target.read_bytes() == b"published" and _leftovers(tmp_path) == []
