"""Nothing lost: a ceremony killed with SIGKILL at any write.

The rehearsal ceremony (root v1 signed by two of three holders, targets v1,
verify) runs in a child process that kills itself at the Nth write point
(``ceremony.fsutil.FAULT_ENV``: before and after every rename, in the middle
of every appended transcript line). After each kill the workspace must
load, every signature the screen reported as made must be on disk, every
transcript must verify up to its last whole record, and running the rest
of the ceremony must finish it. The same run is scanned for the PIN.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ceremony import audit
from ceremony.cli import main
from ceremony.metafile import parse_metadata
from ceremony.rehearsal import Rehearsal, holder_steps, online_key_pem
from ceremony.signing import status
from ceremony.workspace import Workspace

PIN = "Qz7-pin-8841-xk"
SO_PIN = "Qz7-so-5519-wv"
MIN_KILL_POINTS = 30
KILL_POINTS = max(MIN_KILL_POINTS, int(os.environ.get("CEREMONY_KILL_POINTS", "0")))
"""How many kill points to try (at least 30); the long reliability campaign asks for all."""
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def holders(tmp_path_factory):
    """Tokens and public keys of the rehearsal's holders, made once."""
    base = tmp_path_factory.mktemp("crash")
    plan = Rehearsal(base / "unused-ws", base / "unused-tokens", base / "keys")
    env = {"CEREMONY_PIN": PIN, "CEREMONY_SO_PIN": SO_PIN}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    (base / "prep-ws").mkdir()
    plan.keys_dir.mkdir()
    (base / "prep-ws" / "ceremony.toml").write_text('[repository]\nname = "prep"\n')
    try:
        for argv in holder_steps(plan):
            assert main(["--workspace", str(base / "prep-ws"), *argv]) == 0
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    for role in ("snapshot", "timestamp"):
        online_key_pem(plan.keys_dir / f"{role}.pem")
    return plan.keys_dir


def _run(workspace: Path, keys: Path, log: Path, start: int, countdown: int | None):
    env = dict(os.environ, CEREMONY_PIN=PIN, PYTHONPATH=str(REPO))
    env.pop(audit.__name__, None)
    if countdown is not None:
        counter = log.with_suffix(".count")
        counter.write_text(str(countdown))
        env["CEREMONY_FAULT_FILE"] = str(counter)
    else:
        env.pop("CEREMONY_FAULT_FILE", None)
    args = [
        sys.executable,
        "-m",
        "tests.crash_driver",
        str(workspace),
        str(keys),
        str(log),
        str(start),
    ]
    return subprocess.run(args, env=env, cwd=REPO, check=False, timeout=300).returncode


def _steps(log: Path) -> tuple[dict[int, int], int | None]:
    text = log.read_text() if log.exists() else ""
    done = {int(i): int(c) for i, c in re.findall(r"^@@done (\d+) (-?\d+)$", text, re.M)}
    started = [int(i) for i in re.findall(r"^@@step (\d+)$", text, re.M)]
    running = next((i for i in started if i not in done), None)
    return done, running


def _reported_signatures(log: Path) -> list[tuple[str, int, str]]:
    """(role, version, keyid prefix) of every 'signed and verified' line."""
    found, role, version = [], None, None
    for line in log.read_text().splitlines():
        heading = re.match(r"Signing (\S+) v(\d+),", line)
        if heading:
            role, version = heading.group(1), int(heading.group(2))
        signed = re.search(r"signed and verified: .*\(key ([0-9a-f]{8}),", line)
        if signed and role is not None:
            found.append((role, version, signed.group(1)))
    return found


def _check_invariants(workspace: Path, log: Path) -> None:
    for transcript in sorted((workspace / "transcripts").glob("*.jsonl")):
        audit.verify_transcript(transcript)  # raises CheckFailed if the chain broke
    if not (workspace / "ceremony.toml").exists():
        return
    ws = Workspace.open(workspace)
    for path in sorted(ws.metadata_dir.glob("*.json")):
        parse_metadata(path.read_bytes(), str(path))
    status(ws)  # every staged role loads and can be judged
    for role, version, prefix in _reported_signatures(log):
        holders = []
        if role in ws.staged_roles() and ws.staged(role).signed.version == version:
            holders.append(ws.staged(role))
        published = ws.published(role, version)
        if published is not None:
            holders.append(published)
        keyids = {k for metadata in holders for k in metadata.signatures}
        assert any(k.startswith(prefix) for k in keyids), (role, version, prefix)


def _finish(workspace: Path, keys: Path, log: Path) -> None:
    _, running = _steps(log)
    done, _ = _steps(log)
    start = running if running is not None else max(done, default=-1) + 1
    assert _run(workspace, keys, log, start, None) == 0
    done, _ = _steps(log)
    assert done[max(done)] == 0, "verify passes once the ceremony is finished"
    ws = Workspace.open(workspace)
    assert ws.published("root", 1) is not None and ws.published("targets", 1) is not None
    for transcript in (workspace / "transcripts").glob("*.jsonl"):
        audit.verify_transcript(transcript)


def _pin_forms(pin: str) -> list[bytes]:
    raw = pin.encode()
    return [
        raw,
        pin.encode("utf-16-le"),
        raw.hex().encode(),
        base64.b64encode(raw),
        base64.b64encode(raw).rstrip(b"="),
    ]


def test_pin_never_written(holders, tmp_path):
    """Every file the ceremony wrote, scanned for the PIN in several forms."""
    workspace, log = tmp_path / "ws", tmp_path / "run.log"
    assert _run(workspace, holders, log, 0, None) == 0
    done, _ = _steps(log)
    assert done and all(code == 0 for code in done.values()), log.read_text()
    written = [p for p in workspace.rglob("*") if p.is_file()]
    written += [p for p in holders.rglob("*") if p.is_file()]
    written += [p for p in (holders.parent / "prep-ws").rglob("*") if p.is_file()]
    assert len(written) > 10
    for path in [*written, log]:
        data = path.read_bytes()
        for form in _pin_forms(PIN) + _pin_forms(SO_PIN):
            assert form not in data, f"PIN found in {path}"


def _report_figures(**figures: int) -> None:
    """For scripts/reliability.py: the figures of this run, when it asks."""
    target = os.environ.get("CEREMONY_CRASH_FIGURES")
    if target:
        Path(target).write_text(json.dumps(figures))


def test_killed_at_any_write(holders, tmp_path):
    probe_ws, probe_log = tmp_path / "probe", tmp_path / "probe.log"
    big = 10**9
    assert _run(probe_ws, holders, probe_log, 0, big) == 0
    total = big - int(probe_log.with_suffix(".count").read_text())
    assert total >= MIN_KILL_POINTS, f"only {total} write points in the ceremony"
    stride = max(1, total // (KILL_POINTS + 1))
    points = sorted(set(range(1, total + 1, stride)) | {total})
    assert len(points) >= MIN_KILL_POINTS
    _report_figures(write_points=total, kill_points=len(points))
    for point in points:
        workspace, log = tmp_path / f"k{point}" / "ws", tmp_path / f"k{point}" / "run.log"
        log.parent.mkdir()
        code = _run(workspace, holders, log, 0, point)
        assert code == -9, f"kill point {point}: the child was not killed (exit {code})"
        _check_invariants(workspace, log)
        _finish(workspace, holders, log)
