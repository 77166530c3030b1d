"""Run the rehearsal ceremony's steps in one process, logging as it goes.

Used by tests/test_crash.py: the process may be killed at any write (see
``ceremony.fsutil.FAULT_ENV``), so every line printed is written to the log
and fsynced at once: the log then holds exactly what a person watching the
screen would have seen before the plug was pulled.

    python -m tests.crash_driver WORKSPACE KEYS_DIR LOG START_STEP
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ceremony.cli import main as ceremony_main
from ceremony.rehearsal import Rehearsal, ceremony_steps


class _DurableLog:
    def __init__(self, path: Path) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 -- lives as long as the process

    def write(self, text: str) -> int:
        self._file.write(text)
        self._file.flush()
        os.fsync(self._file.fileno())
        return len(text)

    def flush(self) -> None:
        self._file.flush()


def main(argv: list[str]) -> int:
    workspace, keys_dir, log, start = Path(argv[0]), Path(argv[1]), Path(argv[2]), int(argv[3])
    plan = Rehearsal(workspace, keys_dir.parent / "unused-tokens", keys_dir)
    sys.stdout = sys.stderr = _DurableLog(log)  # type: ignore[assignment]
    steps = ceremony_steps(plan)
    for index in range(start, len(steps)):
        print(f"@@step {index}")
        code = ceremony_main(["--workspace", str(workspace), *steps[index]])
        print(f"@@done {index} {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
