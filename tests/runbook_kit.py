"""Helpers for runbook tests: rehearsals in a child process, records, an online server.

A rehearsal sets its own SOFTHSM2_CONF before the PKCS#11 module loads, so
it runs in a child process (this test process already loaded SoftHSM with
the suite's token directory). The online server is played as in
tests/test_end_to_end.py: the ceremony's export, snapshot and timestamp
signed with the rehearsal server's online keys, served on 127.0.0.1 to
python-tuf's ngclient.
"""

from __future__ import annotations

import collections
import hashlib
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets, Timestamp
from tuf.ngclient import Updater

from ceremony import audit
from ceremony.transfer.bundle import read_path

REPO = Path(__file__).resolve().parent.parent
PAYLOAD = b"a file delegated by the runbook\n"


def rehearse(workspace: Path, name: str, *extra: str, fault: Path | None = None, timeout=300):
    """``ceremony rehearse --runbook NAME`` in a child process; (exit code, output)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CEREMONY_PIN", None)
    env.pop("CEREMONY_FAULT_FILE", None)
    if fault is not None:
        env["CEREMONY_FAULT_FILE"] = str(fault)
    argv = [sys.executable, "-m", "ceremony", "--workspace", str(workspace), "rehearse"]
    done = subprocess.run(
        [*argv, "--runbook", name, *extra],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def transcripts(workspace: Path) -> list[Path]:
    """The workspace's transcripts that began (a file whose start record was cut
    short by a power cut never began a ceremony, as audit.Transcript.current says)."""
    found = []
    for path in sorted((workspace / "transcripts").glob("*.jsonl")):
        if audit.verify_transcript(path).records:
            found.append(path)
    return found


def runs(workspace: Path) -> dict[str, dict[str, Any]]:
    """Each runbook run: its transcript(s), steps done, whether its record closed."""
    result: dict[str, dict[str, Any]] = {}
    for path in transcripts(workspace):
        records, _ = audit.read_records(path)
        for record in records:
            details = record["details"]
            run = details.get("run")
            if record["event"] == audit.RUNBOOK and details.get("state") == "started":
                result[run] = {
                    "runbook": details["runbook"],
                    "files": set(),
                    "done": [],
                    "closed": False,
                }
            if run in result:
                result[run]["files"].add(path.name)
                if record["event"] == audit.STEP and details.get("state") == "done":
                    result[run]["done"].append((details["step"], details["index"]))
                if record["event"] == audit.CLOSE:
                    result[run]["closed"] = True
    return result


def check_records(workspace: Path) -> dict[str, dict[str, Any]]:
    """Every transcript verifies and is closed; each run lives in one transcript,
    closed by it, and no step of it was recorded done twice."""
    for path in transcripts(workspace):
        assert audit.verify_transcript(path).closed, f"{path.name} is not closed"
    found = runs(workspace)
    for run, info in found.items():
        assert len(info["files"]) == 1, f"run {run} is spread over {info['files']}"
        assert info["closed"], f"run {run} of {info['runbook']} did not close its record"
        repeated = [s for s, n in collections.Counter(info["done"]).items() if n > 1]
        assert not repeated, f"run {run}: steps recorded done twice: {repeated}"
    return found


def summary(workspace: Path) -> dict[str, Any]:
    """Published metadata as people compare it: versions, thresholds, owners by role."""
    from ceremony.keys import owner_of

    result: dict[str, Any] = {}
    for path in sorted((workspace / "metadata").glob("*.json")):
        metadata = Metadata.from_bytes(path.read_bytes())
        signed = metadata.signed
        entry: dict[str, Any] = {"version": signed.version}
        if signed.type == "root":
            entry["roles"] = {
                name: (role.threshold, sorted(owner_of(signed.keys[k]) for k in role.keyids))
                for name, role in signed.roles.items()
            }
        elif signed.delegations is not None and signed.delegations.roles:
            entry["delegations"] = sorted(signed.delegations.roles)
        result[path.name] = entry
    return result


# --------------------------------------------------------------------------
# The online server and a TUF client


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def served(directory: Path):
    handler = partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _online_signer(files: Path, key: Any) -> CryptoSigner:
    """The rehearsal server's private key whose public half is ``key``."""
    for path in sorted((files / "server").glob("*.key.pem")):
        private = serialization.load_pem_private_key(path.read_bytes(), None)
        public = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if public.decode().strip() == str(key.keyval["public"]).strip():
            return CryptoSigner(private, key)
    raise AssertionError(f"no server key for {key.keyid[:8]}")


def online_server(bundle_dir: Path, files: Path, server: Path) -> list[str]:
    """Publish a ceremony export as the online server does; returns delegated targets."""
    metadata = server / "metadata"
    metadata.mkdir(parents=True)
    for item in read_path(bundle_dir).files:
        if item.name.startswith("metadata/"):
            (metadata / item.name.split("/", 1)[1]).write_bytes(item.data)
    root = Metadata.from_bytes((metadata / "root.json").read_bytes()).signed
    targets = Metadata.from_bytes((metadata / "targets.json").read_bytes()).signed
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    meta = {"targets.json": MetaFile(targets.version)}
    served_targets = []
    for name, role in (targets.delegations.roles or {}).items() if targets.delegations else ():
        path = role.paths[0].replace("*", "hello.txt")
        target = TargetFile.from_data(path, PAYLOAD, ["sha256"])
        digest = hashlib.sha256(PAYLOAD).hexdigest()
        stored = server / "targets" / Path(path).parent / f"{digest}.{Path(path).name}"
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(PAYLOAD)
        delegated = Metadata(Targets(version=1, expires=expires, targets={path: target}))
        key = targets.delegations.keys[role.keyids[0]]
        delegated.sign(_online_signer(files, key))
        delegated.to_file(str(metadata / f"1.{name}.json"))
        meta[f"{name}.json"] = MetaFile(1)
        served_targets.append(path)
    snapshot = Metadata(Snapshot(version=1, expires=expires, meta=meta))
    snapshot.sign(_online_signer(files, root.keys[root.roles["snapshot"].keyids[0]]))
    snapshot.to_file(str(metadata / "1.snapshot.json"))
    timestamp = Metadata(Timestamp(version=1, expires=expires, snapshot_meta=MetaFile(1)))
    timestamp.sign(_online_signer(files, root.keys[root.roles["timestamp"].keyids[0]]))
    timestamp.to_file(str(metadata / "timestamp.json"))
    return served_targets


def client_of(base: str, client: Path, trusted_root: bytes) -> Updater:
    """python-tuf's client, kept in ``client``, of the repository served at
    ``base``, trusting only ``trusted_root``."""
    (client / "metadata").mkdir(parents=True)
    (client / "downloads").mkdir()
    return Updater(
        metadata_dir=str(client / "metadata"),
        metadata_base_url=f"{base}/metadata/",
        target_dir=str(client / "downloads"),
        target_base_url=f"{base}/targets/",
        bootstrap=trusted_root,
    )


def ngclient_accepts(bundle_dir: Path, files: Path, tmp: Path) -> int:
    """Serve the export; python-tuf's client, trusting root v1 only, updates through
    every root version and fetches each delegated target. Returns the root version."""
    server = tmp / "server"
    delegated = online_server(bundle_dir, files, server)
    with served(server) as base:
        updater = client_of(base, tmp / "client", (server / "metadata/1.root.json").read_bytes())
        updater.refresh()
        for path in delegated:
            info = updater.get_targetinfo(path)
            assert info is not None, f"{path} found through its delegation"
            assert Path(updater.download_target(info)).read_bytes() == PAYLOAD
        return int(updater._trusted_set.root.version)
