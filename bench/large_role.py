"""status, review and sign of a large targets role: time and peak memory.

A holder of a targets key meets three commands on a proposal: ``ceremony
status`` (who still has to sign), ``ceremony review targets`` (what changes,
and the hash) and ``ceremony sign targets``. Signing works on the staged
file's exact bytes; status and review must not cost much more on a role of
tens of megabytes.

Set-up (not timed): the rehearsal (``ceremony rehearse``: SoftHSM tokens,
Dave holds the targets key) into a temporary directory; a targets version
of about ``--mb`` MB (that many package entries) is staged, reviewed, signed
with Dave's token and published; then the next version, changing a few
entries (some added, some removed, some with new hashes), is staged. Each
round puts that proposal back as staged (unreviewed, unsigned) and runs,
each in a fresh process through the ``ceremony`` script: ``status``,
``review targets``, ``sign targets --token rehearsal-dave``. Wall time and
peak resident memory (the child's ru_maxrss) of each; medians over
``--rounds`` rounds, interleaved.

``--python`` runs the commands of another installation (its ``ceremony``
script beside it): memory includes what the interpreter loads, and the dev
extra's cloud KMS libraries (which securesystemslib imports when present)
add some 60 MB to every command.

Run: .venv/bin/python -m bench.large_role [--mb N] [--rounds R] [--python PATH]
Target: status and review each within 1.5x of sign's time and of its memory.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TARGET = 1.5
PIN = "rehearsal-pin"  # the rehearsal's fixed, public PIN (ceremony.rehearsal)
TOKEN = "rehearsal-dave"
ENTRY_BYTES = 152
"""About the bytes one package entry takes in the staged file."""


@dataclass
class Run:
    wall: float
    rss_mb: float


def _environment(tokens_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its byte code
    env.pop("CEREMONY_WORKSPACE", None)
    env.pop("CEREMONY_PIN", None)
    env["SOFTHSM2_CONF"] = str(tokens_dir / "softhsm2.conf")
    return env


def _run(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> Run:
    """One command in a fresh process: wall time and the child's peak RSS."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {child.returncode}: {errors.decode()}")
    return Run(wall, usage.ru_maxrss / 1024)


def _entries(first: int, stop: int) -> dict[str, Any]:
    """Package entries ``first`` to ``stop - 1`` as python-tuf TargetFiles."""
    from tuf.api.metadata import TargetFile

    files = {}
    for index in range(first, stop):
        path = f"packages/pkg-{index:07d}/pkg-{index:07d}-1.0.0.tar.gz"
        digest = hashlib.sha256(path.encode()).hexdigest()
        files[path] = TargetFile(10_000 + index, {"sha256": digest}, path)
    return files


def _next_version(files: dict[str, Any], count: int) -> dict[str, Any]:
    """What the next version changes: five entries removed, five with a new
    hash and length, ten added."""
    from tuf.api.metadata import TargetFile

    changed = dict(files)
    paths = sorted(changed)
    for path in paths[:5]:
        del changed[path]
    for path in paths[100:105]:
        changed[path] = TargetFile(changed[path].length + 1, {"sha256": "ab" * 32}, path)
    changed.update(_entries(count, count + 10))
    return changed


def _stage(workspace: Path, targets_files: dict[str, Any]) -> None:
    """Stage the next targets version holding ``targets_files`` (set-up, in process)."""
    from tuf.api.metadata import Metadata, Targets

    from ceremony.session import Ceremony

    with Ceremony(workspace, operator="Bench Operator", allow_network=True) as ceremony:
        ws = ceremony.writable_workspace()
        published = ws.published("targets")
        assert published is not None
        base = published.signed
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=90)
        new = Targets(base.version + 1, base.spec_version, expires, dict(targets_files))
        new.delegations = base.delegations
        ws.stage("targets", Metadata(new), base.version)


def _stage_versions(workspace: Path, count: int) -> None:
    """Stage the large version; after it is published, the next one (see _setup)."""
    files = _entries(0, count)
    if (workspace / "metadata" / "2.targets.json").exists():
        files = _next_version(files, count)
    _stage(workspace, files)


def _in_child(workspace: Path, count: int) -> None:
    """Build and stage in a process of its own: a child forked later from a
    process that once held the large role would report that as its peak RSS."""
    child = multiprocessing.get_context("spawn").Process(
        target=_stage_versions, args=(workspace, count)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"staging failed (exit {child.exitcode})")


def _setup(scratch: Path, megabytes: float, ceremony: list[str]) -> tuple[Path, dict[str, str]]:
    """The rehearsal, a large targets version published, the next one staged."""
    workspace = scratch / "ws"
    env = _environment(scratch / "ws-tokens")
    _run([*ceremony, "--workspace", str(workspace), "rehearse"], env)
    at = ["--workspace", str(workspace), "--allow-network"]
    count = int(megabytes * 1e6 / ENTRY_BYTES)
    _in_child(workspace, count)
    pin_file = scratch / "pin"
    pin_file.write_text(PIN + "\n")
    pin_file.chmod(0o600)
    _run([*ceremony, *at, "review", "targets"], env)
    _run([*ceremony, *at, "sign", "targets", "--token", TOKEN, "--pin-file", str(pin_file)], env)
    _run([*ceremony, *at, "publish", "targets"], env)
    _in_child(workspace, count)
    return workspace, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=28.0, help="size of the role (default 28)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--python", type=Path, default=Path(sys.executable))
    args = parser.parse_args()
    script = args.python.parent / "ceremony"
    ceremony = [str(script)] if script.exists() else [str(args.python), "-m", "ceremony"]
    scratch = Path(tempfile.mkdtemp(prefix="ceremony-large-"))
    try:
        started = time.perf_counter()
        workspace, env = _setup(scratch, args.mb, ceremony)
        staged = workspace / "staged"
        snapshot = {p.name: p.read_bytes() for p in staged.iterdir() if p.is_file()}
        size = (staged / "targets.json").stat().st_size
        took = time.perf_counter() - started
        print(f"set up in {took:.0f} s: staged targets of {size / 1e6:.1f} MB")
        at = ["--workspace", str(workspace), "--allow-network"]
        pin_file = scratch / "pin"
        commands = {
            "status": ([*ceremony, *at, "status"], (0, 1)),  # 1: signatures still needed
            "review targets": ([*ceremony, *at, "review", "targets"], (0,)),
            "sign targets": (
                [*ceremony, *at, "sign", "targets", "--token", TOKEN, "--pin-file", str(pin_file)],
                (0,),
            ),
        }
        runs: dict[str, list[Run]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, data in snapshot.items():  # the proposal as staged, unreviewed
                (staged / name).write_bytes(data)
            for name, (argv, ok) in commands.items():
                runs[name].append(_run(argv, env, ok))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    wall = {n: statistics.median(r.wall for r in rs) for n, rs in runs.items()}
    rss = {n: statistics.median(r.rss_mb for r in rs) for n, rs in runs.items()}
    print(f"{args.rounds} interleaved rounds, medians; each command a fresh process")
    print(f"  {'command':<16} {'wall':>8} {'peak RSS':>10}   against sign")
    verdicts = []
    for name in commands:
        line = f"  {name:<16} {wall[name]:7.2f}s {rss[name]:8.0f} MB"
        if name != "sign targets":
            t, m = wall[name] / wall["sign targets"], rss[name] / rss["sign targets"]
            verdicts.append(t <= TARGET and m <= TARGET)
            line += f"   {t:4.2f}x time, {m:4.2f}x memory"
        print(line)
    print(
        f"verdict: status and review {'within' if all(verdicts) else 'NOT within'} "
        f"{TARGET}x of sign's time and memory"
    )


if __name__ == "__main__":
    main()
