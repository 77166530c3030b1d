"""Every benchmark still runs end to end on its smallest setting.

The benchmarks drive the tool as a ceremony would (records opened, PINs
given the way scripts give them); a rule added to the core can break them
without any other test noticing. These runs check that each one finishes
and prints its verdict lines; they assert no time (figures come from the
benchmarks themselves, run in full).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SMALLEST = {
    "startup.py": (["--runs", "1"], "the app: launch to first screen"),
    "sign.py": (["--count", "20", "--rounds", "1", "--fresh-trials", "1"], "HSMSigner"),
    "verify.py": (["--quick", "--repeat", "1"], "verify_workspace"),
    "large_role.py": (["--mb", "1", "--rounds", "1"], "review targets"),
    "qr.py": (["--quick"], "frames received <= K+2"),
}


@pytest.mark.parametrize("script", sorted(SMALLEST))
def test_benchmark_runs(script: str) -> None:
    args, expected = SMALLEST[script]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert expected in done.stdout
    assert "Traceback" not in done.stderr
