"""Key files the input campaigns found crashing or hanging the reader, now refused in words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ceremony.errors import CeremonyError
from ceremony.keys import load_key_file
from fuzz.strategies import public_pem

REPO = Path(__file__).resolve().parent.parent


def test_pem_with_an_unknown_algorithm_is_bad_input(tmp_path):
    """One bit flipped in the algorithm OID of a P-256 key (found by hypothesis)."""
    pem = bytearray(public_pem("ecdsa-p256"))
    pem[35] ^= 1
    path = tmp_path / "key.pem"
    path.write_bytes(bytes(pem))
    with pytest.raises(CeremonyError):
        load_key_file(path)


_LOAD = (
    "import sys\n"
    "from ceremony.errors import CeremonyError\n"
    "from ceremony.keys import load_key_file\n"
    "try:\n    load_key_file(sys.argv[1])\n"
    "except CeremonyError as error:\n    print(error.message(), file=sys.stderr)\n    sys.exit(2)\n"
)


def _load_in_child(path: Path, timeout: float) -> subprocess.CompletedProcess | None:
    def small_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    try:
        return subprocess.run(
            [sys.executable, "-c", _LOAD, str(path)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=small_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None


def test_key_file_that_is_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "key.json"
    os.mkfifo(fifo)
    result = _load_in_child(fifo, timeout=3)
    assert result is not None, "load_key_file hung on a FIFO"
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_key_file_that_never_ends_is_refused(tmp_path):
    endless = tmp_path / "key.json"
    endless.symlink_to("/dev/zero")
    result = _load_in_child(endless, timeout=20)
    assert result is not None, "load_key_file read /dev/zero for ever"
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-300:]
