"""Real exports for the transfer benchmarks, made the way a ceremony makes them.

``ceremony rehearse`` runs into a temporary directory (SoftHSM tokens, real
signatures, a real ceremony record); then, through the same commands a key
holder types, the rehearsal workspace gets a 50 KB targets role (staged,
reviewed, signed on the rehearsal's token and published) and a root
rotation signed by one holder only. Each bundle is then built by
``exchange.build_export``, exactly as ``ceremony export`` does:

- the rehearsal's root export (``ceremony export root``): root history,
  ``root.json`` and the record;
- the rehearsal's whole export (``ceremony export``), before the targets role;
- a 50 KB targets export (``ceremony export targets``);
- a partial-signatures bundle (``ceremony export --partial``).

Everything runs in this process (the rehearsal points SoftHSM at its own
token directory), so call :func:`build_real_exports` before anything else
loads a PKCS#11 module.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tuf.api.metadata import Metadata, TargetFile, Targets

from ceremony.transfer.bundle import Bundle

TARGETS_SIZE = 50_000


@dataclass(frozen=True)
class RealExport:
    """One bundle as ``ceremony export`` builds it, and what it is."""

    name: str
    bundle: Bundle


def _run(workspace: Path, *argv: str) -> None:
    from ceremony.cli import main

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = main(
            ["--workspace", str(workspace), "--allow-network", "--operator", "Bench", *argv]
        )
    if code != 0:
        raise RuntimeError(f"ceremony {' '.join(argv)} failed ({code}):\n{sink.getvalue()}")


def _targets_entries(size: int, seed: int) -> dict[str, TargetFile]:
    """Entries like an online repository's: a path, a length, SHA-256 and SHA-512."""
    rng = random.Random(seed)
    files: dict[str, TargetFile] = {}
    count = max(1, size // 300)
    for n in range(count):
        path = f"dist/pkg-{n:05d}/pkg-{n:05d}-{rng.randint(0, 9)}.{rng.randint(0, 40)}.tar.gz"
        hashes = {"sha256": rng.randbytes(32).hex(), "sha512": rng.randbytes(64).hex()}
        files[path] = TargetFile(rng.randint(2_000, 90_000_000), hashes, path)
    return files


def _stage_targets(workspace: Path, size: int) -> None:
    """A new targets version of about ``size`` bytes, staged as the tool stages
    (through the ceremony, under the record the bench opened)."""
    from ceremony.metafile import to_file_bytes
    from ceremony.session import Ceremony

    with Ceremony(workspace, operator="Bench Operator", allow_network=True) as ceremony:
        ws = ceremony.writable_workspace()
        current = ws.published("targets")
        assert current is not None
        version = current.signed.version + 1
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=90)
        entries = _targets_entries(size, seed=13)
        metadata = Metadata(Targets(version=version, expires=expires, targets=entries))
        while len(to_file_bytes(metadata)) < size:  # top up to the size asked for
            extra = _targets_entries(size // 20, seed=len(entries))
            entries.update({f"more/{p}": TargetFile(f.length, f.hashes, f"more/{p}")
                            for p, f in extra.items()})
            metadata = Metadata(Targets(version=version, expires=expires, targets=entries))
        ws.stage("targets", metadata, current.signed.version)


def build_real_exports(base: Path) -> list[RealExport]:
    """Rehearse in ``base``, then build the four real exports."""
    from ceremony import rehearsal
    from ceremony.transfer import exchange
    from ceremony.workspace import Workspace

    workspace = base / "ws"
    pin_file = base / "pin"  # the rehearsal's public PIN, as a script gives it
    pin_file.write_text(rehearsal.REHEARSAL_PIN + "\n")
    pin_file.chmod(0o600)
    _run(workspace, "rehearse")
    ws = Workspace.open(workspace)
    exports = [
        RealExport("rehearsal root export", exchange.build_export(ws, ["root"])),
        RealExport("rehearsal whole export", exchange.build_export(ws)),
    ]
    dave = f"rehearsal-{rehearsal.TARGETS_HOLDER.lower()}"
    alice = f"rehearsal-{rehearsal.ROOT_HOLDERS[0].lower()}"
    _run(workspace, "audit", "start", "--title", "Bench", "--witness", "Bench Witness")
    _stage_targets(workspace, TARGETS_SIZE)
    _run(workspace, "review", "targets")
    _run(workspace, "sign", "targets", "--token", dave, "--pin-file", str(pin_file))
    _run(workspace, "publish", "targets")
    ws = Workspace.open(workspace)
    size = ws.published_path("targets").stat().st_size
    exports.append(
        RealExport(f"targets export, {size / 1000:.0f} KB role",
                   exchange.build_export(ws, ["targets"]))
    )
    _run(workspace, "root", "rotate", "--expires", "365")
    _run(workspace, "review", "root")
    _run(workspace, "sign", "root", "--token", alice, "--pin-file", str(pin_file))
    ws = Workspace.open(workspace)
    exports.append(RealExport("partial signatures", exchange.build_export(ws, partial=True)))
    return exports


def distinct_contents(bundle: Bundle) -> list[bytes]:
    """Each distinct file content once, in name order: what must travel."""
    seen: dict[str, bytes] = {}
    for item in bundle.files:
        seen.setdefault(hashlib.sha256(item.data).hexdigest(), item.data)
    return list(seen.values())
