"""Start-up time of the command line against the floor of importing python-tuf.

Every command a key holder types pays the interpreter's start and the
imports of what it runs. The floor is ``python -c "import tuf.api.metadata"``:
a command that reads TUF metadata cannot start faster. Measured in one run,
interleaved (each round runs every command once, so drifting load hits all
alike), ``--runs`` rounds, medians of wall time:

- the floor;
- ``ceremony --help``;
- ``ceremony status`` and ``ceremony verify`` on a small workspace: the
  rehearsal's (``ceremony rehearse`` into a temporary directory: root v1
  of three keys, threshold two, targets, all published);
- the app (``ceremony`` on that workspace) from launch to its first drawn
  screen on a pseudo-terminal, beside a bare Textual app showing one label
  (target: within 2.0x of the bare app).

Each command runs once before timing, and the byte-code caches are written
(PYTHONDONTWRITEBYTECODE is dropped for the children): an installed package
has them, and without them every edited module is compiled again each run.

``--python`` measures another installation (its ``ceremony`` script beside
it). The floor depends on what is installed: securesystemslib's signer
package imports the cloud KMS libraries (boto3, google-cloud-kms, azure)
when they are present, and the dev extra brings them in with
repository-service-tuf; the bench says so when it sees them. An install
without the dev extra is what the air-gapped laptop runs.

Run: .venv/bin/python -m bench.startup [--runs N] [--python PATH] [--workspace DIR]
Target: help, status and verify each within 2.0x of the floor.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

TARGET = 2.0
CLOUD_SDKS = ("boto3", "google.cloud.kms", "azure.core")


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("CEREMONY_WORKSPACE", None)
    return env


def _ceremony(python: Path) -> list[str]:
    script = python.parent / "ceremony"
    return [str(script)] if script.exists() else [str(python), "-m", "ceremony"]


def _build_workspace(ceremony: list[str], where: Path, env: dict[str, str]) -> Path:
    workspace = where / "ws"
    subprocess.run(
        [*ceremony, "--workspace", str(workspace), "rehearse"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return workspace


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    return elapsed


def _cloud_sdks_loaded(python: Path, env: dict[str, str]) -> list[str]:
    probe = (
        "import sys, tuf.api.metadata\n"
        f"print(' '.join(m for m in {CLOUD_SDKS!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [str(python), "-c", probe], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.split()


BARE_APP = """
from textual.app import App
from textual.widgets import Label

class Bare(App):
    def compose(self):
        yield Label("bare app ready")

Bare().run()
"""
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]")


def _first_draw(argv: list[str], marker: bytes, env: dict[str, str], timeout: float = 30) -> float:
    """Seconds from exec to the terminal showing ``marker``: the first drawn screen.

    The program runs on a pseudo-terminal of 100x30, as in a real console;
    it is killed once the marker is on the screen."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.clear()
        os.environ.update(env, TERM="xterm-256color", COLUMNS="100", LINES="30")
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    seen = b""
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            if marker in _ANSI.sub(b"", seen):
                return time.perf_counter() - start
        raise SystemExit(f"{' '.join(argv)} never drew {marker!r}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def app_first_draw(
    python: Path, ceremony: list[str], workspace: Path, env: dict[str, str], runs: int
) -> tuple[float, float]:
    """Median seconds from launch to the first drawn screen: the app on the
    workspace, and a bare Textual app showing one label, interleaved."""
    app = [*ceremony, "--workspace", str(workspace)]
    bare = [str(python), "-c", BARE_APP]
    _first_draw(app, b"Start the ceremony", env)  # warm
    _first_draw(bare, b"bare app ready", env)
    apps, bares = [], []
    for _ in range(runs):
        apps.append(_first_draw(app, b"Start the ceremony", env))
        bares.append(_first_draw(bare, b"bare app ready", env))
    return statistics.median(apps), statistics.median(bares)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds (default 15)")
    parser.add_argument("--python", type=Path, default=Path(sys.executable))
    parser.add_argument("--workspace", type=Path, help="an existing workspace to use")
    args = parser.parse_args()
    env = _environment()
    ceremony = _ceremony(args.python)
    scratch = Path(tempfile.mkdtemp(prefix="ceremony-startup-"))
    try:
        workspace = args.workspace or _build_workspace(ceremony, scratch, env)
        at = ["--workspace", str(workspace)]
        commands = {
            "floor": [str(args.python), "-c", "import tuf.api.metadata"],
            "ceremony --help": [*ceremony, "--help"],
            "ceremony status": [*ceremony, *at, "status"],
            "ceremony verify": [*ceremony, *at, "verify"],
        }
        for argv in commands.values():  # warm: byte-code written, files cached
            _time(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(_time(argv, env))
        cloud = _cloud_sdks_loaded(args.python, env)
        app, bare = app_first_draw(args.python, ceremony, workspace, env, args.runs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"python: {args.python}; {args.runs} interleaved runs each, medians of wall time")
    print(f"workspace: {'given' if args.workspace else 'the rehearsal, built in a temporary dir'}")
    if cloud:
        print(
            f"note: the floor includes {', '.join(cloud)}, which securesystemslib's signer "
            "package imports when installed (the dev extra brings them); an install without "
            "them has a lower floor"
        )
    floor = statistics.median(times["floor"])
    print(f"  {'floor: import tuf.api.metadata':<34} {floor * 1000:7.1f} ms")
    verdicts = []
    for name in commands:
        if name == "floor":
            continue
        median = statistics.median(times[name])
        ratio = median / floor
        verdict = "meets" if ratio <= TARGET else "MISSES"
        verdicts.append(ratio <= TARGET)
        print(
            f"  {name:<34} {median * 1000:7.1f} ms  {ratio:4.2f}x the floor  "
            f"({verdict} the {TARGET:.1f}x target)"
        )
    print(f"verdict: {'all within' if all(verdicts) else 'NOT all within'} {TARGET:.1f}x the floor")
    ratio = app / bare
    print(f"  {'bare Textual app: first screen':<34} {bare * 1000:7.1f} ms")
    print(
        f"  {'the app: launch to first screen':<34} {app * 1000:7.1f} ms  {ratio:4.2f}x the "
        f"bare app  ({'meets' if ratio <= TARGET else 'MISSES'} the {TARGET:.1f}x target)"
    )


if __name__ == "__main__":
    main()
