"""A short atheris campaign per parser: part of every test run, a few seconds.

The long campaign runs on demand: python scripts/reliability.py --long.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TARGETS = ("fuzz_metadata", "fuzz_public_key", "fuzz_config", "fuzz_pin_file")
RUNS = int(os.environ.get("CEREMONY_FUZZ_RUNS", "2000"))


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
@pytest.mark.parametrize("target", TARGETS)
def test_short_fuzz_campaign(target, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", f"fuzz.{target}", f"-runs={RUNS}", "-max_len=8192"],
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    done = re.search(r"Done (\d+) runs", output)
    assert done and int(done.group(1)) >= RUNS, output[-1000:]
