"""The whole point: a tool-made repository that a real TUF client accepts.

The ceremony (SoftHSM tokens, our CLI) makes root versions 1..3 and a
targets role delegating ``pkgs/*``. The test then plays the online server:
it signs the delegated role, snapshot and timestamp with online keys and
serves everything on 127.0.0.1. python-tuf's ngclient, trusting only root
version 1, must update to root 3 and download a target through the
delegation. A rotation that skips the old root's threshold must be refused
by ngclient and by ``ceremony verify`` alike.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.ngclient import Updater

from tests.conftest import USER_PIN
from tests.kit import ceremony, make_holder, make_online_key, review, root_args
from tests.runbook_kit import client_of

PAYLOAD = b"hello from the offline ceremony\n"
TARGET = "pkgs/hello.txt"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve(tmp_path):
    """Serve a directory on 127.0.0.1; yields a function returning the base URL."""
    servers = []

    def start(directory: Path) -> str:
        handler = partial(_QuietHandler, directory=str(directory))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _sign_round(ws: Path, role: str, tokens: list[str]) -> None:
    review(ws, role)
    for token in tokens:
        assert ceremony(ws, "sign", role, "--token", token) == 0
    assert ceremony(ws, "publish", role) == 0


def _ceremony_repository(ws: Path, lib, make_token, keys: Path):
    """Root v1..v3 and targets v1 delegating pkgs/*, all made by the CLI."""
    alice, bob, carol = (make_holder(lib, make_token, keys, n) for n in ("Alice", "Bob", "Carol"))
    dave = make_holder(lib, make_token, keys, "Dave", key_label="targets")
    online = {
        "targets": dave,
        "snapshot": make_online_key(keys, "snapshot"),
        "timestamp": make_online_key(keys, "timestamp"),
    }
    assert ceremony(ws, *root_args([alice, bob, carol], online)) == 0
    _sign_round(ws, "root", [alice.token, carol.token])

    erin = make_holder(lib, make_token, keys, "Erin")
    assert (
        ceremony(
            ws, "root", "rotate", "--remove-key", "root=Carol", "--add-key", f"root={erin.key_file}"
        )
        == 0
    )
    _sign_round(ws, "root", [alice.token, bob.token, erin.token])

    assert ceremony(ws, "root", "rotate", "--expires", "200") == 0
    _sign_round(ws, "root", [bob.token, erin.token])

    pkgs = make_online_key(keys, "pkgs")
    assert (
        ceremony(
            ws, "targets", "delegate", "pkgs", "--key", str(pkgs.key_file), "--paths", "pkgs/*"
        )
        == 0
    )
    _sign_round(ws, "targets", [dave.token])
    return online, pkgs


def _online_server(ws: Path, server_dir: Path, online, pkgs) -> None:
    """What the online repository does with the ceremony's export."""
    metadata = server_dir / "metadata"
    shutil.copytree(ws / "metadata", metadata)
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)

    target = TargetFile.from_data(TARGET, PAYLOAD, ["sha256"])
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    target_path = server_dir / "targets" / "pkgs" / f"{digest}.hello.txt"
    target_path.parent.mkdir(parents=True)
    target_path.write_bytes(PAYLOAD)

    delegated = Metadata(Targets(version=1, expires=expires, targets={TARGET: target}))
    delegated.sign(pkgs.signer)
    delegated.to_file(str(metadata / "1.pkgs.json"))

    targets_version = Metadata.from_file(str(ws / "metadata" / "targets.json")).signed.version
    snapshot = Metadata(
        Snapshot(
            version=1,
            expires=expires,
            meta={"targets.json": MetaFile(targets_version), "pkgs.json": MetaFile(1)},
        )
    )
    snapshot.sign(online["snapshot"].signer)
    snapshot.to_file(str(metadata / "1.snapshot.json"))
    timestamp = Metadata(Timestamp(version=1, expires=expires, snapshot_meta=MetaFile(1)))
    timestamp.sign(online["timestamp"].signer)
    timestamp.to_file(str(metadata / "timestamp.json"))


def _client(tmp_path: Path, trusted_root: Path, base: str, name: str) -> Updater:
    return client_of(base, tmp_path / name, trusted_root.read_bytes())


def _bad_rotation(metadata_dir: Path) -> Path:
    """Root v4 signed only by two new keys: the old threshold is not met."""
    current = Metadata.from_file(str(metadata_dir / "3.root.json")).signed
    root = Root.from_dict(current.to_dict())
    root.version = 4
    new_signers = [CryptoSigner.generate_ecdsa() for _ in range(2)]
    for keyid in list(root.roles["root"].keyids):
        root.revoke_key(keyid, "root")
    for signer in new_signers:
        root.add_key(signer.public_key, "root")
    bad = Metadata(root)
    for signer in new_signers:
        bad.sign(signer, append=True)
    path = metadata_dir / "4.root.json"
    bad.to_file(str(path))
    return path


def test_ngclient_accepts_ceremony_repository(
    lib, make_token, tmp_path, workspace, monkeypatch, serve, capsys
):
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    keys = tmp_path / "keys-in"
    keys.mkdir()
    online, pkgs = _ceremony_repository(workspace, lib, make_token, keys)
    assert ceremony(workspace, "verify") == 0

    server_dir = tmp_path / "server"
    _online_server(workspace, server_dir, online, pkgs)
    base = serve(server_dir)

    updater = _client(tmp_path, workspace / "metadata" / "1.root.json", base, "client")
    updater.refresh()
    assert updater._trusted_set.root.version == 3
    info = updater.get_targetinfo(TARGET)
    assert info is not None, "target found through the pkgs delegation"
    downloaded = updater.download_target(info)
    assert Path(downloaded).read_bytes() == PAYLOAD

    # a bad rotation, made with python-tuf directly, is refused by both
    _bad_rotation(server_dir / "metadata")
    fresh = _client(tmp_path, workspace / "metadata" / "1.root.json", base, "client-2")
    with pytest.raises(UnsignedMetadataError):
        fresh.refresh()
    shutil.copy(server_dir / "metadata" / "4.root.json", workspace / "metadata" / "4.root.json")
    capsys.readouterr()
    assert ceremony(workspace, "verify") == 1
    report = capsys.readouterr()
    failing = [line for line in report.out.splitlines() if "FAIL" in line]
    assert failing and failing[0].split()[:2] == ["root", "4"]
