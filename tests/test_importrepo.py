"""import-repo: a repository built with python-tuf becomes a workspace.

Root keys are SoftHSM tokens (so the imported workspace can rotate its
root here), carrying tuf-on-ci's owner field as a foreign repository's
would; targets, the delegated role and the online roles use software keys.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner, Key, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from ceremony.keys import URI_FIELD, Pkcs11Uri, load_key_file
from ceremony.signer import Pkcs11Signer, default_pool
from tests.conftest import USER_PIN
from tests.kit import ceremony, make_holder, review

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
OWNER = "x-tuf-on-ci-keyowner"


def _foreign(key: Key, owner: str) -> SSlibKey:
    """The key as another tool publishes it: tuf-on-ci's owner field only."""
    return SSlibKey(key.keyid, key.keytype, key.scheme, dict(key.keyval), {OWNER: owner})


def _token_signer(holder) -> Pkcs11Signer:
    key = load_key_file(holder.key_file)
    return Pkcs11Signer(
        Pkcs11Uri.parse(key.unrecognized_fields[URI_FIELD]),
        key,
        lambda _: USER_PIN,
        pool=default_pool(),
    )


def _write(directory: Path, name: str, metadata: Metadata) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(metadata.to_bytes())


def build_repository(directory: Path, holders) -> dict:
    """Roots v1 (Alice, Bob; 2 of 2) and v2 (+ Carol; 2 of 3), targets delegating
    pkgs/* to a software key, snapshot and timestamp: python-tuf's layout."""
    alice, bob, carol = holders
    software = {n: CryptoSigner.generate_ecdsa() for n in ("targets", "pkgs", "snap", "time")}
    root = Root(expires=SOON, consistent_snapshot=True)
    for holder in (alice, bob):
        root.add_key(_foreign(load_key_file(holder.key_file), holder.name), "root")
    root.roles["root"].threshold = 2
    for role, name in (("targets", "targets"), ("snapshot", "snap"), ("timestamp", "time")):
        root.add_key(software[name].public_key, role)
    v1 = Metadata(root)
    for holder in (alice, bob):
        v1.sign(_token_signer(holder), append=True)
    _write(directory, "1.root.json", v1)

    root2 = Root.from_dict(v1.signed.to_dict())
    root2.version = 2
    root2.add_key(_foreign(load_key_file(carol.key_file), carol.name), "root")
    v2 = Metadata(root2)
    for holder in (alice, bob):
        v2.sign(_token_signer(holder), append=True)
    _write(directory, "2.root.json", v2)
    shutil.copy(directory / "2.root.json", directory / "root.json")

    pkgs = Metadata(Targets(expires=SOON))
    pkgs.signed.targets["pkgs/a.txt"] = TargetFile.from_data("pkgs/a.txt", b"a\n")
    pkgs.sign(software["pkgs"])
    _write(directory, "1.pkgs.json", pkgs)
    targets = Metadata(Targets(expires=SOON))
    delegated = DelegatedRole("pkgs", [software["pkgs"].public_key.keyid], 1, False, ["pkgs/*"])
    targets.signed.delegations = Delegations(
        {software["pkgs"].public_key.keyid: software["pkgs"].public_key}, {"pkgs": delegated}
    )
    targets.sign(software["targets"])
    _write(directory, "1.targets.json", targets)
    snapshot = Metadata(Snapshot(expires=SOON))
    snapshot.signed.meta = {"targets.json": MetaFile(1), "pkgs.json": MetaFile(1)}
    snapshot.sign(software["snap"])
    _write(directory, "1.snapshot.json", snapshot)
    timestamp = Metadata(Timestamp(expires=SOON, snapshot_meta=MetaFile(1)))
    timestamp.sign(software["time"])
    _write(directory, "timestamp.json", timestamp)
    return software


@pytest.fixture
def repo(lib, make_token, tmp_path, monkeypatch):
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    keys = tmp_path / "keys-in"
    keys.mkdir()
    holders = [make_holder(lib, make_token, keys, n) for n in ("Alice", "Bob", "Carol")]
    directory = tmp_path / "python-tuf-repo" / "metadata"
    software = build_repository(directory, holders)
    return directory, holders, keys, software


def test_import_verify_and_rotate(repo, tmp_path, lib, make_token, capsys):
    directory, (alice, bob, carol), keys, _ = repo
    ws = tmp_path / "imported"
    assert ceremony(ws, "import-repo", str(directory.parent)) == 0
    out = capsys.readouterr().out
    assert "profile tuf-on-ci" in out and "root versions 1 to 2" in out and "pkgs v1" in out
    for name in ("1.root.json", "2.root.json", "1.targets.json", "1.pkgs.json"):
        assert (ws / "metadata" / name).read_bytes() == (directory / name).read_bytes(), name
    assert not (ws / "metadata" / "timestamp.json").exists()
    assert ceremony(ws, "verify") == 0

    # a rotation here: Bob out, Dave in, signed by tokens found by keyid
    dave = make_holder(lib, make_token, keys, "Dave")
    rotate = ["root", "rotate", "--remove-key", "root=Bob", "--add-key", f"root={dave.key_file}"]
    assert ceremony(ws, *rotate) == 0
    review(ws, "root")
    for holder in (alice, carol):
        assert ceremony(ws, "sign", "root", "--token", holder.token) == 0
    assert ceremony(ws, "publish", "root") == 0
    assert ceremony(ws, "verify") == 0
    v3 = Metadata.from_file(str(ws / "metadata" / "3.root.json"))
    assert v3.signed.keys[dave.keyid].unrecognized_fields == {OWNER: "Dave"}
    assert bob.keyid not in v3.signed.roles["root"].keyids


def test_tuf_on_ci_layout(repo, tmp_path):
    """root.json with root_history/, unversioned targets roles."""
    directory, *_ = repo
    layout = tmp_path / "tuf-on-ci" / "metadata"
    (layout / "root_history").mkdir(parents=True)
    for version in (1, 2):
        shutil.copy(directory / f"{version}.root.json", layout / "root_history")
    shutil.copy(directory / "root.json", layout / "root.json")
    shutil.copy(directory / "1.targets.json", layout / "targets.json")
    shutil.copy(directory / "1.pkgs.json", layout / "pkgs.json")
    ws = tmp_path / "from-tuf-on-ci"
    assert ceremony(ws, "import-repo", str(layout)) == 0
    assert ceremony(ws, "verify") == 0
    assert (ws / "metadata" / "1.pkgs.json").read_bytes() == (layout / "pkgs.json").read_bytes()


def _break(directory: Path, how: str, software) -> None:
    if how == "gap":
        (directory / "1.root.json").unlink()
    elif how == "fork":
        history = directory / "root_history"
        history.mkdir()
        other = json.loads((directory / "2.root.json").read_bytes())
        other["signed"]["expires"] = "2099-01-01T00:00:00Z"
        (history / "2.root.json").write_text(json.dumps(other))
    elif how == "unsigned_root":
        v2 = Metadata.from_file(str(directory / "2.root.json"))
        v2.signatures.popitem()
        _write(directory, "2.root.json", v2)
        shutil.copy(directory / "2.root.json", directory / "root.json")
    elif how == "bad_delegation":
        pkgs = Metadata.from_file(str(directory / "1.pkgs.json"))
        pkgs.signed.targets["pkgs/evil.txt"] = TargetFile.from_data("pkgs/evil.txt", b"x")
        _write(directory, "1.pkgs.json", pkgs)
    elif how == "stale_copy":
        shutil.copy(directory / "1.root.json", directory / "root.json")


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("gap", "version(s) 1 missing"),
        ("fork", "two different files claim root version 2"),
        ("unsigned_root", "root version 2 (2.root.json) is not signed by a threshold"),
        ("bad_delegation", "pkgs (1.pkgs.json) is not signed by a threshold"),
        ("stale_copy", "is not a copy of the newest numbered root"),
    ],
)
def test_import_refusals_write_nothing(repo, tmp_path, capsys, how, words):
    directory, _, _, software = repo
    _break(directory, how, software)
    ws = tmp_path / "refused"
    capsys.readouterr()
    assert ceremony(ws, "import-repo", str(directory)) == 1
    assert words in capsys.readouterr().err
    assert not ws.exists()


def test_import_refused_over_an_existing_root(repo, tmp_path, capsys):
    directory, *_ = repo
    ws = tmp_path / "twice"
    assert ceremony(ws, "import-repo", str(directory)) == 0
    before = sorted(p.name for p in (ws / "metadata").iterdir())
    capsys.readouterr()
    assert ceremony(ws, "import-repo", str(directory)) == 2
    assert "already has a published root" in capsys.readouterr().err
    assert sorted(p.name for p in (ws / "metadata").iterdir()) == before


def test_import_of_a_missing_directory_is_bad_input(tmp_path, capsys):
    assert ceremony(tmp_path / "ws", "import-repo", str(tmp_path / "nothing")) == 2
    assert "is not a directory" in capsys.readouterr().err
