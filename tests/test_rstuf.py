"""RSTUF: the rstuf profile, export --rstuf and import --rstuf, against RSTUF's CLI.

Holders are SoftHSM tokens; RSTUF's own CLI (``repository-service-tuf``)
posts our payload files to a recording API on 127.0.0.1, its payload
dataclasses parse them, and RSTUF's re-serialisation of a root is played
by ``tests.rstufkit.reserialise``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from securesystemslib.signer import Signature
from tuf.api.metadata import Metadata, Root

from ceremony import profiles
from ceremony.keys import OWNER_FIELD, URI_FIELD, Pkcs11Uri, load_key_file
from ceremony.metafile import payload_bytes
from ceremony.signer import Pkcs11Signer, default_pool
from tests import rstufkit
from tests.conftest import USER_PIN
from tests.kit import ceremony, make_holder, make_online_key, review

helpers = pytest.importorskip(
    "repository_service_tuf.cli.admin.helpers", reason="RSTUF's CLI is in the dev extra"
)


@pytest.fixture
def api():
    yield from rstufkit.serve()


@pytest.fixture
def people(lib, make_token, tmp_path, monkeypatch):
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    keys = tmp_path / "keys-in"
    keys.mkdir()
    holders = [make_holder(lib, make_token, keys, n) for n in ("Alice", "Bob", "Carol")]
    online = make_online_key(keys, "online")
    return holders, online, keys


def _init_args(holders, online, profile="rstuf") -> list[str]:
    args = ["root", "init", "--profile", profile, "--threshold", "root=2"]
    for holder in holders:
        args += ["--key", f"root={holder.key_file}"]
    for role in ("targets", "snapshot", "timestamp"):
        args += ["--key", f"{role}={online.key_file}"]
    return args


def _published_v1(ws: Path, holders, online, profile="rstuf") -> None:
    assert ceremony(ws, *_init_args(holders, online, profile)) == 0
    review(ws, "root")
    assert ceremony(ws, "sign", "root") == 0  # guided: finds each token from keys/
    assert ceremony(ws, "publish", "root") == 0


def _send(tmp_path, api, kind: str, path: Path) -> None:
    done = rstufkit.rstuf_cli(tmp_path, api.url, "send", kind, str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rstuf_profile_keys_and_tokens_found_from_keys_dir(people, workspace, capsys):
    holders, online, _ = people
    assert ceremony(workspace, *_init_args(holders, online)) == 0
    staged = json.loads((workspace / "staged" / "root.json").read_bytes())["signed"]
    for holder in holders:
        assert staged["keys"][holder.keyid] == {
            **{k: staged["keys"][holder.keyid][k] for k in ("keytype", "scheme", "keyval")},
            "x-rstuf-key-name": holder.name,
        }
    online_id = load_key_file(online.key_file).keyid
    assert staged["keys"][online_id]["x-rstuf-online-key-uri"] == f"fn:{online_id}"
    assert all(set(r) == {"keyids", "threshold"} for r in staged["roles"].values())
    # the token URI stays in keys/
    kept = [load_key_file(p) for p in (workspace / "keys").glob("*.json")]
    assert {k.keyid for k in kept if URI_FIELD in k.unrecognized_fields} == {
        h.keyid for h in holders
    }
    capsys.readouterr()
    assert ceremony(workspace, "status", "--json") == 1
    waiting = json.loads(capsys.readouterr().out)[0]["requirements"][0]["waiting"]
    assert all(any(h.token in w and h.name in w for w in waiting) for h in holders)
    assert "[repository]\nname" in (workspace / "ceremony.toml").read_text()
    assert 'profile = "rstuf"' in (workspace / "ceremony.toml").read_text()


def test_rstuf_profile_refuses_separate_online_keys(people, tmp_path, capsys):
    holders, online, keys = people
    other = make_online_key(keys, "timestamp")
    args = _init_args(holders, online)
    args[args.index(f"timestamp={online.key_file}")] = f"timestamp={other.key_file}"
    assert ceremony(tmp_path / "ws2", *args) == 2
    assert "share one online key" in capsys.readouterr().err
    assert not (tmp_path / "ws2").exists()


def test_bootstrap_and_update_sent_by_rstuf_cli(people, workspace, tmp_path, api, lib, make_token):
    holders, online, keys = people
    _published_v1(workspace, holders, online)
    out = tmp_path / "to-rstuf"
    assert ceremony(workspace, "export", "--rstuf", str(out), "--rstuf-bins", "64") == 0
    written = json.loads((out / "bootstrap-payload.json").read_bytes())

    # RSTUF's own payload dataclasses take our fields and give them back
    roles = written["settings"]["roles"]
    parsed = helpers.CeremonyPayload(
        settings=helpers.Settings(
            roles=helpers.Roles(
                root=helpers.Role(**roles["root"]),
                timestamp=helpers.Role(**roles["timestamp"]),
                snapshot=helpers.Role(**roles["snapshot"]),
                targets=helpers.Role(**roles["targets"]),
                bins=helpers.BinsRole(**roles["bins"]),
                delegations=roles["delegations"],
            )
        ),
        metadata=helpers.Metadatas(**written["metadata"]),
        timeout=written["timeout"],
    )
    assert asdict(parsed) == written
    assert roles["bins"] == {"expiration": 1, "number_of_delegated_bins": 64}

    _send(tmp_path, api, "bootstrap", out / "bootstrap-payload.json")
    [arrived] = api.bodies("/api/v1/bootstrap/")
    assert arrived == written
    assert arrived["metadata"]["root"] == json.loads(
        (workspace / "metadata" / "1.root.json").read_bytes()
    )
    _signatures_survive_rstuf(arrived["metadata"]["root"], None)

    # a rotation: Carol's key replaced by Dave's; the update payload
    dave = make_holder(lib, make_token, keys, "Dave")
    rotate = ["root", "rotate", "--remove-key", "root=Carol", "--add-key", f"root={dave.key_file}"]
    assert ceremony(workspace, *rotate) == 0
    review(workspace, "root")
    assert ceremony(workspace, "sign", "root") == 0
    assert ceremony(workspace, "publish", "root") == 0
    out2 = tmp_path / "to-rstuf-2"
    assert ceremony(workspace, "export", "--rstuf", str(out2)) == 0
    update = out2 / "update-payload-root-v2.json"
    written2 = json.loads(update.read_bytes())
    parsed2 = helpers.UpdatePayload(metadata=helpers.Metadatas(**written2["metadata"]))
    assert asdict(parsed2) == written2
    _send(tmp_path, api, "update", update)
    [arrived2] = api.bodies("/api/v1/metadata/")
    assert arrived2 == json.loads(update.read_bytes())
    v1 = Metadata.from_dict(json.loads((workspace / "metadata" / "1.root.json").read_bytes()))
    _signatures_survive_rstuf(arrived2["metadata"]["root"], v1.signed)


def _signatures_survive_rstuf(root_dict: dict, previous: Root | None) -> None:
    """After RSTUF's re-serialisation, the root still meets both thresholds."""
    stored = Metadata.from_dict(rstufkit.reserialise(root_dict))
    result = stored.signed.get_root_verification_result(
        previous, payload_bytes(stored), stored.signatures
    )
    assert result.verified, result


def test_plain_profile_would_break_at_rstuf(people, workspace, tmp_path, capsys):
    """The reason for the profile: the same ceremony under plain loses its signatures."""
    holders, online, _ = people
    _published_v1(workspace, holders, online, profile="plain")
    root = json.loads((workspace / "metadata" / "1.root.json").read_bytes())
    stored = Metadata.from_dict(rstufkit.reserialise(root))
    result = stored.signed.get_root_verification_result(
        None, payload_bytes(stored), stored.signatures
    )
    assert not result.verified and not result.signed
    capsys.readouterr()
    assert ceremony(workspace, "export", "--rstuf", str(tmp_path / "nope")) == 2
    assert "--profile rstuf" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


# --------------------------------------------------------------------------
# RSTUF's metadata to sign


def _pending_v2(workspace: Path, holders, lib, *, sign_with=None, days=365) -> dict:
    """RSTUF's pending root v2, as its CLI makes it: next version, new expiry,
    signed by one holder at RSTUF's side, then re-serialised by its API."""
    v1 = json.loads((workspace / "metadata" / "1.root.json").read_bytes())
    root = Root.from_dict(json.loads(json.dumps(v1["signed"])))
    root.version = 2
    root.expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    metadata = Metadata(root)
    for holder in sign_with or []:
        key = load_key_file(holder.key_file)
        uri = Pkcs11Uri.parse(key.unrecognized_fields[URI_FIELD])
        signer = Pkcs11Signer(uri, key, lambda _p: USER_PIN, pool=default_pool())
        metadata.signatures[key.keyid] = signer.sign(payload_bytes(metadata))
    pending = rstufkit.reserialise(metadata.to_dict())
    return {"data": {"metadata": {"root": pending, "trusted_root": rstufkit.reserialise(v1)}}}


def test_import_rstuf_sign_and_send_signature(people, workspace, tmp_path, api, lib, capsys):
    holders, online, _ = people
    _published_v1(workspace, holders, online)
    served = tmp_path / "metadata-to-sign.json"
    served.write_text(json.dumps(_pending_v2(workspace, holders, lib, sign_with=holders[:1])))
    assert ceremony(workspace, "import", "--rstuf", str(served)) == 0
    out = capsys.readouterr().out
    assert "pending root v2 is staged" in out and "already carries, all verified: 1" in out
    staged = json.loads((workspace / "staged" / "root.json").read_bytes())
    assert list(staged["signatures"][0].values()) != []
    assert {s["keyid"] for s in staged["signatures"]} == {holders[0].keyid}

    review(workspace, "root")
    assert ceremony(workspace, "sign", "root", "--token", holders[1].token) == 0
    out_dir = tmp_path / "signatures-for-rstuf"
    assert ceremony(workspace, "export", "--rstuf", str(out_dir)) == 0
    [bob_file] = out_dir.glob(f"sign-payload-root-v2-{holders[1].keyid[:16]}.json")
    payload = json.loads(bob_file.read_bytes())
    assert asdict(helpers.SignPayload(**payload)) == payload
    assert payload["role"] == "root"
    _send(tmp_path, api, "sign", bob_file)
    [arrived] = api.bodies("/api/v1/metadata/sign/")
    assert arrived == payload
    # Bob's signature holds on the root as RSTUF keeps it
    pending = Metadata.from_dict(json.loads(served.read_bytes())["data"]["metadata"]["root"])
    key = pending.signed.keys[holders[1].keyid]
    key.verify_signature(Signature.from_dict(dict(arrived["signature"])), payload_bytes(pending))


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ("foreign_trusted_root", 2, "is not root v1 as published here"),
        ("expired", 1, "expired on"),
        ("tampered", 1, "do not verify"),
        ("wrong_version", 2, "the next root here is version 2"),
        ("targets_only", 2, "holds no pending root"),
    ],
)
def test_import_rstuf_refusals(people, workspace, tmp_path, lib, capsys, change, code, words):
    holders, online, _ = people
    _published_v1(workspace, holders, online)
    document = _pending_v2(
        workspace, holders, lib, sign_with=holders[:1], days=-1 if change == "expired" else 365
    )
    metadata = document["data"]["metadata"]
    if change == "foreign_trusted_root":
        metadata["trusted_root"]["signed"]["expires"] = "2099-01-01T00:00:00Z"
    if change == "tampered":
        key = metadata["root"]["signed"]["keys"][holders[2].keyid]
        key["x-rstuf-key-name"] = "Mallory"
    if change == "wrong_version":
        metadata["root"]["signed"]["version"] = 3
        metadata["root"]["signatures"] = []
    if change == "targets_only":
        metadata["targets"] = metadata.pop("root")
    served = tmp_path / "metadata-to-sign.json"
    served.write_text(json.dumps(document))
    capsys.readouterr()
    assert ceremony(workspace, "import", "--rstuf", str(served)) == code
    assert words in capsys.readouterr().err
    assert not (workspace / "staged" / "root.json").exists()


def test_profile_functions_round_trip(tmp_path):
    """for_metadata drops our fields; local_key brings them back from keys/."""
    from securesystemslib.signer import CryptoSigner

    from ceremony.keys import key_to_json

    key = CryptoSigner.generate_ecdsa().public_key
    key.unrecognized_fields.update({OWNER_FIELD: "Erin", URI_FIELD: "pkcs11:token=erin"})
    (tmp_path / f"erin-{key.keyid[:12]}.json").write_bytes(key_to_json(key))
    for profile, field_name in profiles.OWNER_FIELD_OF.items():
        public = profiles.for_metadata(key, profile)
        assert public.keyid == key.keyid and public.unrecognized_fields[field_name] == "Erin"
        if profile != profiles.PLAIN:
            assert URI_FIELD not in public.unrecognized_fields
        back = profiles.local_key(tmp_path, public)
        assert back.unrecognized_fields[URI_FIELD] == "pkcs11:token=erin"
        assert back.unrecognized_fields[OWNER_FIELD] == "Erin"
    online = CryptoSigner.generate_ecdsa().public_key
    online.unrecognized_fields.update({"x-tuf-on-ci-online-uri": "gcpkms:k", OWNER_FIELD: "bot"})
    assert profiles.for_metadata(online, profiles.TUF_ON_CI).unrecognized_fields == {
        "x-tuf-on-ci-online-uri": "gcpkms:k",
        "x-tuf-on-ci-keyowner": "bot",
    }
    assert profiles.for_metadata(online, profiles.RSTUF, online=True).unrecognized_fields == {
        "x-rstuf-key-name": "bot",
        "x-rstuf-online-key-uri": f"fn:{online.keyid}",
    }
    with pytest.raises(Exception, match="not one of"):
        profiles.for_metadata(key, "warehouse")
