"""verify_workspace against the floor and python-tuf's own loop; staging big roles.

Builds, in a temporary directory, a workspace with 50 root versions (three
root keys, threshold two, one key replaced per version, each version signed
by both thresholds) and top-level targets delegating 16,384 succinct hash
bins (bit length 14), every bin's file present and signed. Then times, in
one run and interleaved (so drifting load hits all alike):

- the floor: for every file, read it, parse its JSON and verify one
  signature (cryptography, key parsed once) over the signed bytes: what no
  verifier of these files can go below;
- ``ceremony.verify.verify_workspace`` (signatures checked by python-tuf on
  the payload bytes the files hold, objects built only where read);
- python-tuf's own loop: ``Metadata.from_bytes`` plus
  ``get_root_verification_result`` and ``verify_delegate`` over the same
  files.

Also stages and signs a targets role with 50,000 target entries and one of
10 MB (software key standing in for the token; its signing time is shown
apart, since a token's is added on top).

Run: .venv/bin/python -m bench.verify [--quick] [--repeat N]
Targets: verify within 1.3x of the floor (cpu); stage+sign of a 10 MB role
under 1 s plus the token's time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Role,
    Root,
    SuccinctRoles,
    TargetFile,
    Targets,
)

from ceremony import signing
from ceremony.config import Config
from ceremony.keys import OWNER_FIELD
from ceremony.metafile import to_file_bytes
from ceremony.verify import verify_workspace
from ceremony.workspace import StagedPayload, Workspace

EXPIRES = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365)
TOP = ("root", "targets", "snapshot", "timestamp")


def holder(name: str) -> CryptoSigner:
    signer = CryptoSigner.generate_ecdsa()
    signer.public_key.unrecognized_fields[OWNER_FIELD] = name
    return signer


def write(directory: Path, role: str, metadata: Metadata) -> None:
    """Published layout (numbered copy plus ROLE.json), without fsync: setup only."""
    data = to_file_bytes(metadata)
    (directory / f"{metadata.signed.version}.{role}.json").write_bytes(data)
    (directory / f"{role}.json").write_bytes(data)


# --------------------------------------------------------------- building


def build_roots(directory: Path, versions: int, online: dict[str, CryptoSigner]) -> None:
    keys = [holder(f"holder-{i}") for i in range(3)]
    previous: list[CryptoSigner] = []
    for version in range(1, versions + 1):
        if version > 1:
            keys = [*keys[1:], holder(f"holder-{version + 2}")]
        root = Root(version=version, expires=EXPIRES, consistent_snapshot=True)
        root.roles = {name: Role([], 1) for name in TOP}
        for signer in keys:
            root.add_key(signer.public_key, "root")
        for name, signer in online.items():
            root.add_key(signer.public_key, name)
        root.roles["root"].threshold = 2
        metadata = Metadata(root)
        signers = {s.public_key.keyid: s for s in [*previous[:2], *keys[:2]]}
        for signer in signers.values():
            metadata.sign(signer, append=True)
        write(directory, "root", metadata)
        previous = keys


def build_bins(directory: Path, bit_length: int, targets_key: CryptoSigner) -> int:
    bin_key = holder("bins")
    succinct = SuccinctRoles([bin_key.public_key.keyid], 1, bit_length, "bin")
    targets = Targets(version=1, expires=EXPIRES)
    targets.delegations = Delegations(
        {bin_key.public_key.keyid: bin_key.public_key}, succinct_roles=succinct
    )
    top = Metadata(targets)
    top.sign(targets_key)
    write(directory, "targets", top)
    count = 0
    for name in succinct.get_roles():
        bin_md = Targets(version=1, expires=EXPIRES)
        for index in range(2):
            path = f"{name}/file-{index}.tar.gz"
            digest = hashlib.sha256(path.encode()).hexdigest()
            bin_md.targets[path] = TargetFile(1000 + index, {"sha256": digest}, path)
        metadata = Metadata(bin_md)
        metadata.sign(bin_key)
        write(directory, name, metadata)
        count += 1
    return count


def build_workspace(path: Path, versions: int, bit_length: int) -> tuple[Workspace, int]:
    workspace = Workspace.create(path, Config(repository="bench"), lambda *_a, **_k: None)
    online = {name: holder(name) for name in ("targets", "snapshot", "timestamp")}
    build_roots(workspace.metadata_dir, versions, online)
    bins = build_bins(workspace.metadata_dir, bit_length, online["targets"])
    return workspace, bins


# --------------------------------------------------------------- baseline


def baseline(directory: Path) -> None:
    """python-tuf's own checks, written the obvious way."""
    root: Metadata[Root] | None = None
    version = 1
    while (path := directory / f"{version}.root.json").exists():
        new = Metadata[Root].from_bytes(path.read_bytes())
        previous = root.signed if root is not None else None
        result = new.signed.get_root_verification_result(previous, new.signed_bytes, new.signatures)
        if not result.verified:
            raise RuntimeError(f"root {version} does not verify")
        root, version = new, version + 1
    assert root is not None
    targets = Metadata[Targets].from_bytes((directory / "targets.json").read_bytes())
    root.signed.verify_delegate("targets", targets.signed_bytes, targets.signatures)
    succinct = targets.signed.delegations.succinct_roles
    for name in succinct.get_roles():
        try:
            data = (directory / f"{name}.json").read_bytes()
        except FileNotFoundError:
            continue
        delegated = Metadata[Targets].from_bytes(data)
        targets.signed.verify_delegate(name, delegated.signed_bytes, delegated.signatures)


def floor_keys(directory: Path, names: list[str]) -> dict[str, ec.EllipticCurvePublicKey]:
    """Every public key of the roots and of targets' delegations, parsed once (setup)."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for name in names:
        if name.startswith("bin-"):
            continue  # bins hold no keys
        signed = Metadata.from_bytes((directory / name).read_bytes()).signed
        if isinstance(signed, Root):
            listed = signed.keys
        else:
            assert isinstance(signed, Targets) and signed.delegations is not None
            listed = signed.delegations.keys
        for keyid, key in listed.items():
            crypto_key = key._crypto_key()  # type: ignore[attr-defined]
            assert isinstance(crypto_key, ec.EllipticCurvePublicKey)
            keys.setdefault(keyid, crypto_key)
    return keys


def floor(
    directory: Path, names: list[str], keys: dict[str, ec.EllipticCurvePublicKey]
) -> None:
    """Read, parse, verify one signature per file: nothing less checks these files.

    The payload is the file's own bytes, but for roots whose PEM keys make
    their stored text differ from canonical JSON, which must be encoded."""
    algorithm = ec.ECDSA(hashes.SHA256())
    for name in names:
        with open(os.path.join(directory, name), "rb") as handle:
            data = handle.read()
        document = json.loads(data)
        signature = document["signatures"][0]
        payload = data[data.index(b',"signed":') + 10 : -2]
        if b"\\" in payload:  # escapes (PEM keys in roots): canonical JSON differs
            payload = str(encode_canonical(document["signed"])).encode()
        keys[signature["keyid"]].verify(bytes.fromhex(signature["sig"]), payload, algorithm)


def ours(workspace: Workspace) -> None:
    report = verify_workspace(workspace)
    if not report.ok:
        raise RuntimeError(f"verify_workspace failed: {report.failures[:3]}")


def timed(function: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds: CPU time is what other load cannot inflate."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


# ----------------------------------------------------------- stage + sign


def big_targets(entries: int) -> Metadata[Targets]:
    targets = Targets(version=2, expires=EXPIRES)
    for index in range(entries):
        path = f"packages/pkg-{index:06d}/pkg-{index:06d}-1.0.0.tar.gz"
        digest = hashlib.sha256(path.encode()).hexdigest()
        targets.targets[path] = TargetFile(10_000 + index, {"sha256": digest}, path)
    return Metadata(targets)


def entries_for_size(size: int) -> int:
    sample = 1000
    per_entry = len(to_file_bytes(big_targets(sample))) / sample
    return int(size / per_entry) + 1


def stage_and_sign(workspace: Workspace, role: str, metadata: Metadata) -> list[Row]:
    """Stage once, then what `ceremony sign` does around the token: read the
    staged bytes, check they were reviewed and who still has to sign, sign,
    check the signature, save it, judge the thresholds again."""
    signer = holder("token-stand-in")
    _delegate_for_bench(workspace, role, signer)
    stage = timed(lambda: workspace.stage(role, metadata, 1))
    digest = workspace.staged_payload(role).digest
    workspace.mark_reviewed(role, digest)
    held: list[StagedPayload] = []
    steps: list[tuple[str, Callable[[], object]]] = [
        (
            "read staged bytes (Workspace.staged_payload)",
            lambda: held.append(workspace.staged_payload(role)),
        ),
        (
            "reviewed? (require_reviewed)",
            lambda: signing.require_reviewed(workspace, role, held[0].digest),
        ),
        ("who must sign (requirements_for)", lambda: _requirements(workspace, held[0])),
        ("check the new signature", lambda: _check(held[0], signer)),
        ("save signatures (Workspace.add_signatures)", lambda: _save(workspace, held[0])),
        ("thresholds again (requirements_for)", lambda: _requirements(workspace, held[0])),
    ]
    rows, wall, cpu = (
        [Row("  stage (Workspace.stage), before review", *stage, "not counted")],
        0.0,
        0.0,
    )
    for label, step in steps[:3]:
        seconds = timed(step)
        wall, cpu = wall + seconds[0], cpu + seconds[1]
        rows.append(Row(f"  {label}", *seconds))
    token = timed(
        lambda: held[0].signatures.update({signer.public_key.keyid: signer.sign(held[0].payload)})
    )
    rows.append(Row("  the key's own signing (the token's time)", *token, "not counted"))
    for label, step in steps[3:]:
        seconds = timed(step)
        wall, cpu = wall + seconds[0], cpu + seconds[1]
        rows.append(Row(f"  {label}", *seconds))
    verdict = "target under 1 s (cpu): " + ("met" if cpu < 1 else "NOT met")
    rows.append(Row("  sign without the token's time", wall, cpu, verdict))
    size = workspace.staged_path(role).stat().st_size
    entries = len(metadata.signed.targets)
    return [Row(f"targets role, {entries:,} entries, {size / 1e6:.1f} MB"), *rows]


def _delegate_for_bench(workspace: Workspace, role: str, signer: CryptoSigner) -> None:
    """Stage targets delegating ``role`` to the stand-in key (once per key)."""
    base = workspace.published("targets")
    targets = Targets(version=base.signed.version + 1, expires=EXPIRES) if base else Targets()
    targets.delegations = Delegations(
        keys={signer.public_key.keyid: signer.public_key},
        roles={role: DelegatedRole(role, [signer.public_key.keyid], 1, True, paths=["*"])},
    )
    workspace.stage("targets", Metadata(targets), None)


def _requirements(workspace: Workspace, staged: StagedPayload) -> object:
    return signing.requirements_for(workspace, staged.role, staged.payload, staged.signatures)


def _save(workspace: Workspace, staged: StagedPayload) -> object:
    return workspace.add_signatures(staged.role, staged.digest, staged.signatures)


def _check(staged: StagedPayload, signer: CryptoSigner) -> None:
    signature = staged.signatures[signer.public_key.keyid]
    signer.public_key.verify_signature(signature, staged.payload)


# ------------------------------------------------------------------ report


@dataclass
class Row:
    what: str
    wall: float | None = None
    cpu: float | None = None
    note: str = ""


def verify_rows(workspace: Workspace, versions: int, bins: int, repeat: int) -> list[Row]:
    directory = workspace.metadata_dir
    names = sorted(n.name for n in directory.glob("*.json") if n.name[0].isdigit())
    names = [n for n in names if n.endswith(".root.json")] + ["targets.json"]
    names += sorted(n.name for n in directory.glob("bin-*.json"))
    keys = floor_keys(directory, names)
    runners: dict[str, Callable[[], object]] = {
        "floor": lambda: floor(directory, names, keys),
        "ours": lambda: ours(workspace),
        "python-tuf": lambda: baseline(directory),
    }
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    for _ in range(repeat):  # interleaved, so drifting load hits all alike
        for name, run in runners.items():
            runs[name].append(timed(run))
    median = {n: [statistics.median(r[i] for r in runs[n]) for i in (0, 1)] for n in runs}
    low, mine, tuf = median["floor"], median["ours"], median["python-tuf"]

    def versus(other: list[float]) -> str:
        return f"{mine[1] / other[1]:.2f}x cpu, {mine[0] / other[0]:.2f}x wall"

    verdict = "target 1.3x: " + ("met" if mine[1] / low[1] <= 1.3 else "NOT met")
    files = f"{versions} roots + targets + {bins:,} bins"
    return [
        Row(f"floor (read + parse + 1 signature a file), {files}", *low, "floor"),
        Row("verify_workspace, same files", *mine, f"{versus(low)} the floor"),
        Row("python-tuf's own loop, same files", *tuf, f"ours {versus(tuf)} it"),
        Row("  verify within 1.3x of the floor (cpu)", note=verdict),
    ]


def run(args: argparse.Namespace) -> None:
    versions, bit_length = (10, 10) if args.quick else (50, 14)
    entries = 5_000 if args.quick else 50_000
    big_size = 1_000_000 if args.quick else 10_000_000
    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    try:
        start = time.perf_counter()
        workspace, bins = build_workspace(tmp / "ws", versions, bit_length)
        print(
            f"built {versions} roots and {bins:,} hash bins in {time.perf_counter() - start:.1f} s"
        )
        rows = verify_rows(workspace, versions, bins, args.repeat)
        for count in (entries, entries_for_size(big_size)):
            rows += stage_and_sign(workspace, "packages", big_targets(count))
        print_table(rows, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(rows: list[Row], repeat: int) -> None:
    width = max(len(r.what) for r in rows)
    print(f"verification: median of {repeat} interleaved runs; stage+sign: one run")
    print(f"{'what':<{width}}  {'wall':>8}  {'cpu':>8}  note")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 8}  {'-' * 24}")
    for row in rows:
        wall = "" if row.wall is None else f"{row.wall:.3f} s"
        cpu = "" if row.cpu is None else f"{row.cpu:.3f} s"
        print(f"{row.what:<{width}}  {wall:>8}  {cpu:>8}  {row.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 roots, 1,024 bins, small roles")
    parser.add_argument("--repeat", type=int, default=3, help="verification runs (median)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
