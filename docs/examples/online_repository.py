"""The online half of a plain TUF repository, with python-tuf's repository tools.

An example for docs/online-server.md, not part of tuf-ceremony: it runs on
the online server, which holds the online keys (snapshot, timestamp and any
online-signed delegated role) as PEM files. It takes in what a ceremony
exported (root history, targets and offline-signed delegations, signed
offline), adds target files to online-signed roles, and signs snapshot and
timestamp with ``tuf.repository.Repository``'s ``do_snapshot`` and
``do_timestamp``. ``check`` serves the repository on 127.0.0.1 and lets
python-tuf's client download a target, trusting only root version 1.

    python3 online_repository.py keygen KEYS_DIR NAME
    python3 online_repository.py receive EXPORT_DIR REPO
    python3 online_repository.py add-target REPO ROLE FILE --key PEM [--path NAME]
    python3 online_repository.py snapshot REPO --snapshot-key PEM --timestamp-key PEM
    python3 online_repository.py check REPO --trusted-root FILE --target NAME
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.ngclient import Updater
from tuf.repository import Repository

EXPIRY_DAYS = {"snapshot": 7, "timestamp": 1, "targets": 90}


def load_signer(pem: Path) -> Signer:
    private = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    return CryptoSigner(private)


class ServerRepository(Repository):
    """Metadata in REPO/metadata, consistent snapshots, online keys in memory."""

    def __init__(self, repo: Path, signers: dict[str, Signer]) -> None:
        self.dir = repo / "metadata"
        self.signers = signers

    def _current(self, role: str) -> Path:
        if role == "root":
            versions = [int(p.name.split(".")[0]) for p in self.dir.glob("*.root.json")]
            return self.dir / f"{max(versions)}.root.json"
        return self.dir / f"{role}.json"

    def open(self, role: str) -> Metadata:
        path = self._current(role)
        if path.is_file():
            return Metadata.from_file(str(path))
        new = {"snapshot": Snapshot, "timestamp": Timestamp}.get(role, Targets)
        return Metadata(new(version=1))  # the first version

    def close(self, role: str, metadata: Metadata) -> None:
        if self._current(role).is_file():
            metadata.signed.version += 1
        days = EXPIRY_DAYS.get(role, EXPIRY_DAYS["targets"])
        metadata.signed.expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
        metadata.signatures.clear()
        metadata.sign(self.signers[role])
        data = metadata.to_bytes()
        if role != "timestamp":
            (self.dir / f"{metadata.signed.version}.{role}.json").write_bytes(data)
        (self.dir / f"{role}.json").write_bytes(data)

    @property
    def targets_infos(self) -> dict[str, MetaFile]:
        infos = {}
        for path in sorted(self.dir.glob("*.json")):
            role = path.name[: -len(".json")]
            if role in ("root", "snapshot", "timestamp") or role.split(".")[0].isdigit():
                continue
            infos[path.name] = MetaFile(Metadata.from_file(str(path)).signed.version)
        return infos

    @property
    def snapshot_info(self) -> MetaFile:
        return MetaFile(self.snapshot().version)


# --------------------------------------------------------------------------


def cmd_keygen(args: argparse.Namespace) -> None:
    out = Path(args.keys_dir)
    out.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    key_path = out / f"{args.name}.key"
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (out / f"{args.name}.pub.pem").write_bytes(public)
    print(f"{key_path} (keep it on this server) and {out / args.name}.pub.pem (for the ceremony)")


def cmd_receive(args: argparse.Namespace) -> None:
    """Copy an export's metadata in; never replace a different published file."""
    incoming = Path(args.export_dir) / "metadata"
    target = Path(args.repo) / "metadata"
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(incoming.glob("*.json")):
        existing = target / path.name
        numbered = path.name.split(".")[0].isdigit()
        if numbered and existing.is_file() and existing.read_bytes() != path.read_bytes():
            sys.exit(f"refused: {existing} is published and differs from {path}")
        shutil.copyfile(path, existing)
        print(f"  {path.name}")


def cmd_add_target(args: argparse.Namespace) -> None:
    repo = Path(args.repo)
    data = Path(args.file).read_bytes()
    name = args.path or Path(args.file).name
    target = TargetFile.from_data(name, data, ["sha256"])
    stored = repo / "targets" / Path(name).parent / f"{target.hashes['sha256']}.{Path(name).name}"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(data)
    repository = ServerRepository(repo, {args.role: load_signer(Path(args.key))})
    with repository.edit_targets(args.role) as targets:
        targets.targets[name] = target
    print(f"{name} added to {args.role} (stored as {stored.relative_to(repo)})")


def cmd_snapshot(args: argparse.Namespace) -> None:
    signers = {
        "snapshot": load_signer(Path(args.snapshot_key)),
        "timestamp": load_signer(Path(args.timestamp_key)),
    }
    repository = ServerRepository(Path(args.repo), signers)
    repository.do_snapshot(force=True)
    repository.do_timestamp(force=True)
    print(f"snapshot v{repository.snapshot().version}, timestamp v{repository.timestamp().version}")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def cmd_check(args: argparse.Namespace) -> None:
    """Serve REPO on 127.0.0.1 and update a fresh client trusting one root."""
    handler = partial(QuietHandler, directory=str(args.repo))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as client:
        trusted = Path(args.trusted_root).read_bytes()
        Root.from_dict(Metadata.from_bytes(trusted).signed.to_dict())  # a root, or fail
        updater = Updater(
            client, f"{base}/metadata/", client, f"{base}/targets/", bootstrap=trusted
        )
        updater.refresh()
        info = updater.get_targetinfo(args.target)
        if info is None:
            sys.exit(f"the client found no target {args.target!r}")
        path = updater.download_target(info)
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        root = Metadata.from_file(str(Path(client) / "root.json")).signed.version
    server.shutdown()
    print(f"client trusts root v{root}; downloaded {args.target} (sha256 {digest[:16]}...)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(required=True)
    keygen = sub.add_parser("keygen", help="make an online key (private PEM, public PEM)")
    keygen.add_argument("keys_dir")
    keygen.add_argument("name")
    keygen.set_defaults(func=cmd_keygen)
    receive = sub.add_parser("receive", help="take in a ceremony export's metadata")
    receive.add_argument("export_dir")
    receive.add_argument("repo")
    receive.set_defaults(func=cmd_receive)
    add = sub.add_parser("add-target", help="add a file to an online-signed targets role")
    add.add_argument("repo")
    add.add_argument("role")
    add.add_argument("file")
    add.add_argument("--key", required=True)
    add.add_argument("--path")
    add.set_defaults(func=cmd_add_target)
    snap = sub.add_parser("snapshot", help="sign new snapshot and timestamp versions")
    snap.add_argument("repo")
    snap.add_argument("--snapshot-key", required=True)
    snap.add_argument("--timestamp-key", required=True)
    snap.set_defaults(func=cmd_snapshot)
    check = sub.add_parser("check", help="download a target with python-tuf's client")
    check.add_argument("repo")
    check.add_argument("--trusted-root", required=True)
    check.add_argument("--target", required=True)
    check.set_defaults(func=cmd_check)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
