"""The engine, tested through its own API against SoftHSM: plans, the guided
signing round, review records, the trust invariants, the record's policy.

Front ends are not involved: every assertion is on the data the core
returns and on the workspace files, so the app and the command line get
exactly what is tested here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from securesystemslib.signer import SSlibKey

from ceremony import audit, roles, rounds
from ceremony.airgap import IFF_RUNNING, IFF_UP, Interface, Readings, Route, preflight
from ceremony.errors import (
    DuplicateKey,
    KeyNotAllowed,
    NetworkUp,
    NoRecord,
    NotReviewed,
    PrivateKeyMaterial,
    UnsafeName,
)
from ceremony.keys import OWNER_FIELD, key_to_json, load_key_file
from ceremony.session import Ceremony
from ceremony.workspace import Workspace
from tests.conftest import USER_PIN
from tests.kit import make_people

ONLINE = Readings(
    now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    interfaces=(Interface("eth0", "up", IFF_UP | IFF_RUNNING),),
    default_routes=(Route("ipv4", "eth0"),),
    entropy_avail=256,
)


def pin(_prompt: str) -> str:
    return USER_PIN


@pytest.fixture
def people(lib, make_token, tmp_path):
    return make_people(lib, make_token, tmp_path / "keys-in")


def session(path: Path, **kw) -> Ceremony:
    kw.setdefault("allow_network", True)
    return Ceremony(path, operator="Olivia Operator", **kw)


def root_request(people, threshold: int = 2) -> roles.RootPlan:
    holders, online = people
    add = [("root", load_key_file(h.key_file)) for h in holders]
    add += [(role, load_key_file(k.key_file)) for role, k in online.items()]
    return roles.RootPlan(add=add, thresholds={"root": threshold})


def files_of(path: Path) -> dict[str, bytes]:
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != ".ceremony.lock"
    }


def staged_root(people, workspace: Path) -> Ceremony:
    """Root v1 staged and reviewed, ready for the signing round."""
    ceremony = session(workspace)
    ceremony.stage(ceremony.plan_root_init(root_request(people), {}, "test-repo"))
    ceremony.confirm_review(ceremony.review("root"))
    return ceremony


# ---------------------------------------------------------------- plans


def test_plan_is_data_and_writes_nothing(people, workspace):
    ceremony = session(workspace)
    plan = ceremony.plan_root_init(root_request(people), {"root": 200}, "test-repo")
    assert plan.role == "root" and plan.version == 1 and plan.create_workspace
    kinds = [c.kind for c in plan.changes]
    assert kinds[:3] == ["version", "expires", "consistent_snapshot"]
    listed = [c for c in plan.changes if c.kind == "key_listed" and c.role == "root"]
    assert [c.key.owner for c in listed if c.key] == ["Alice", "Bob", "Carol"]
    assert files_of(workspace) == {}
    staged = ceremony.stage(plan)
    assert staged.payload_sha256 == plan.payload_sha256
    record = [r for r in records(workspace) if r["event"] == audit.STAGED][-1]
    assert record["details"]["changes"] == [*plan.summary()[1:]]
    assert record["details"]["kind"] == "root init"


def test_rotation_plan_names_holders_and_both_thresholds(people, workspace, tmp_path):
    publish_root_v1(people, workspace)
    ceremony = session(workspace)
    erin = fresh_key(tmp_path, "Erin")
    plan = ceremony.plan_rotation(
        roles.RootPlan(
            add=[("root", erin)], remove=[("root", "Carol")], thresholds={"root": 3}
        )
    )
    by_kind = {c.kind: c for c in plan.changes if c.role == "root"}
    assert by_kind["key_added"].key.owner == "Erin"
    assert by_kind["key_removed"].key.owner == "Carol"
    assert (by_kind["threshold"].threshold_before, by_kind["threshold"].threshold_after) == (2, 3)
    assert plan.base_version == 1 and plan.version == 2


# ------------------------------------------------------ trust invariants


def fresh_key(directory: Path, owner: str, **fields) -> SSlibKey:
    private = ec.generate_private_key(ec.SECP256R1())
    key = SSlibKey.from_crypto(private.public_key())
    key.unrecognized_fields[OWNER_FIELD] = owner
    key.unrecognized_fields.update(fields)
    return key


def alias_of(key: SSlibKey) -> SSlibKey:
    """The same public key under the legacy keytype: another keyid."""
    data = key.to_dict()
    data["keytype"] = "ecdsa-sha2-nistp256"
    from securesystemslib.signer._utils import compute_default_keyid

    keyid = compute_default_keyid(data["keytype"], data["scheme"], data["keyval"])
    return SSlibKey.from_dict(keyid, data)


def test_one_key_twice_under_two_keyids_is_refused(people, workspace):
    holders, _ = people
    request = root_request(people)
    alice = load_key_file(holders[0].key_file)
    twin = alias_of(alice)
    assert twin.keyid != alice.keyid
    request.add.append(("root", twin))
    with pytest.raises(DuplicateKey, match="same key"):
        session(workspace).plan_root_init(request, {}, "test-repo")
    assert files_of(workspace) == {}


def test_alias_refused_in_rotation_and_delegation(people, workspace):
    publish_root_v1(people, workspace)
    holders, _ = people
    alice = load_key_file(holders[0].key_file)
    ceremony = session(workspace)
    before = files_of(workspace)
    with pytest.raises(DuplicateKey):
        ceremony.plan_rotation(roles.RootPlan(add=[("root", alias_of(alice))]))
    with pytest.raises(DuplicateKey):
        ceremony.plan_delegation(
            roles.DelegationPlan("pkgs", [alice, alias_of(alice)], 2, paths=["p/*"]),
            "targets",
            None,
        )
    assert files_of(workspace) == before


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(private="00" * 32),
        lambda d: d["keyval"].update(private="-----BEGIN PRIVATE KEY-----"),
        lambda d: d.update({"x-note": {"private_key": "secret"}}),
    ],
    ids=["top-level", "keyval", "nested"],
)
def test_key_file_with_private_material_is_refused(tmp_path, mutate):
    key = fresh_key(tmp_path, "Mallory")
    document = json.loads(key_to_json(key))
    mutate(document)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PrivateKeyMaterial):
        load_key_file(path)


def test_pem_with_a_private_key_after_the_public_one_is_refused(tmp_path):
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secret = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "key.pem"
    path.write_bytes(public + secret)
    with pytest.raises(PrivateKeyMaterial, match="private key"):
        load_key_file(path)
    path.write_bytes(public)
    assert load_key_file(path).keytype == "ecdsa"


def pem_file(tmp_path: Path, private) -> Path:
    path = tmp_path / f"k{id(private)}.pem"
    path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda: rsa.generate_private_key(65537, 2048),
        lambda: ec.generate_private_key(ec.SECP521R1()),
    ],
    ids=["rsa-2048", "p-521"],
)
def test_keys_the_design_does_not_allow(tmp_path, make):
    with pytest.raises(KeyNotAllowed):
        load_key_file(pem_file(tmp_path, make()))


def test_scheme_that_does_not_fit_the_key_is_refused(tmp_path):
    key = fresh_key(tmp_path, "Mallory")
    document = json.loads(key_to_json(key))
    document["scheme"] = "ecdsa-sha2-nistp384"
    document.pop("keyid")
    path = tmp_path / "key.json"
    path.write_text(json.dumps(document))
    with pytest.raises(KeyNotAllowed, match="secp384r1"):
        load_key_file(path)


@pytest.mark.parametrize(
    "name", ["3.root", "1.targets", "../x", "a/b", "nul\x00x", "targets", "Root", "x.state", ""]
)
def test_unsafe_delegated_role_names_are_refused(people, workspace, name):
    publish_root_v1(people, workspace)
    holders, _ = people
    before = files_of(workspace)
    plan = roles.DelegationPlan(name, [load_key_file(holders[0].key_file)], 1, paths=["p/*"])
    with pytest.raises(UnsafeName):
        session(workspace).plan_delegation(plan, "targets", None)
    assert files_of(workspace) == before


# ------------------------------------------------------------ the record


def test_a_write_with_no_open_record_is_refused(people, workspace):
    plan = session(workspace).plan_root_init(root_request(people), {}, "test-repo")
    Ceremony(workspace, operator="Olivia Operator", allow_network=True).stage(plan)
    ws = Workspace.open(workspace)  # no record set: a bare core object
    before = files_of(workspace)
    with pytest.raises(NoRecord):
        ws.stage("root", plan.metadata, None)
    with pytest.raises(NoRecord):
        ws.mark_reviewed("root", plan.payload_sha256)
    assert files_of(workspace) == before


def test_core_write_on_an_online_machine_needs_the_override(people, workspace):
    online = lambda: preflight(ONLINE)  # noqa: E731
    refused = Ceremony(workspace, operator="Olivia", allow_network=False, check=online)
    plan = refused.plan_root_init(root_request(people), {}, "test-repo")
    with pytest.raises(NetworkUp, match="eth0"):
        refused.stage(plan)
    assert not (workspace / "staged").exists() and not (workspace / "ceremony.toml").exists()
    (transcript,) = (workspace / "transcripts").iterdir()
    assert [r["event"] for r in read(transcript)][-2:] == [audit.ERROR, audit.CLOSE]

    allowed = Ceremony(workspace, operator="Olivia", allow_network=True, check=online)
    allowed.stage(allowed.plan_root_init(root_request(people), {}, "test-repo"))
    exception = [r for r in records(workspace) if r["event"] == audit.EXCEPTION][-1]
    assert exception["details"]["override"] == "network"
    assert (workspace / "staged" / "root.json").is_file()


def read(path: Path) -> list[dict]:
    return audit.read_records(path)[0]


def records(workspace: Path) -> list[dict]:
    transcript = audit.Transcript.current(workspace)
    assert transcript is not None
    return read(transcript.path)


# --------------------------------------------------------------- review


def test_describing_has_no_side_effect_confirming_records_it(people, workspace):
    ceremony = session(workspace)
    ceremony.stage(ceremony.plan_root_init(root_request(people), {}, "test-repo"))
    before = files_of(workspace)
    review = ceremony.review("root")
    assert files_of(workspace) == before
    assert any(c.kind == "role_listed" and c.role == "root" for c in review.changes)
    with pytest.raises(NotReviewed):
        ceremony.signing_round("root")
    ceremony.confirm_review(review)
    shown = [r for r in records(workspace) if r["event"] == audit.REVIEW_SHOWN][-1]
    assert shown["details"]["payload_sha256"] == review.payload_sha256
    assert shown["details"]["changes"] == review.change_lines()


def test_outside_text_is_shown_with_controls_visible(people, workspace, tmp_path):
    publish_root_v1(people, workspace)
    forged = fresh_key(tmp_path, "Eve\r\x1b[2K  root: key removed: Mallory\u202e")
    ceremony = session(workspace)
    plan = ceremony.plan_rotation(roles.RootPlan(add=[("root", forged)]))
    lines = "\n".join(plan.summary())
    assert "\r" not in lines and "\x1b" not in lines and "\u202e" not in lines
    assert "Eve\\x0d\\x1b[2K" in lines and "\\u202e" in lines


# ------------------------------------------------------ the signing round


def test_round_steps_through_two_holders_to_thresholds_met(people, workspace):
    holders, _ = people
    ceremony = staged_root(people, workspace)
    round_ = ceremony.signing_round("root")
    seen, met_on_signing = [], []
    step = round_.poll()
    while not isinstance(step, rounds.Done):
        assert isinstance(step, rounds.PinNeeded), step
        assert step.token is not None and step.token.pin_state == ("ok",)
        seen.append(step.holder.owner)
        step = round_.sign(pin)
        assert isinstance(step, rounds.Signed)
        met_on_signing.append(step.complete)
        step = round_.poll()
    assert step.complete and seen == ["Alice", "Bob"]
    assert met_on_signing == [False, True]  # the second signature says the thresholds are met
    staged = Workspace.open(workspace).staged_payload("root")
    assert set(staged.signatures) == {h.keyid for h in holders[:2]}
    events = [r["event"] for r in records(workspace)]
    assert events.count(audit.SIGNATURE_MADE) == 2


def token_dir(conf: Path, serial: str) -> Path:
    """SoftHSM keeps each token in a folder named by a UUID ending in its serial."""
    tokendir = Path(conf.read_text().split("=", 1)[1].split("\n", 1)[0].strip())
    (found,) = [p for p in tokendir.iterdir() if p.name.replace("-", "").endswith(serial)]
    return found


@contextmanager
def unplugged(conf: Path, serial: str, aside: Path) -> Iterator[None]:
    """The token taken out of the reader (its SoftHSM folder moved away)."""
    source = token_dir(conf, serial)
    aside.mkdir(exist_ok=True)
    shutil.move(str(source), str(aside / source.name))
    try:
        yield
    finally:
        shutil.move(str(aside / source.name), str(source))


def test_wrong_token_is_recognised_before_any_pin(people, workspace, softhsm_conf, tmp_path):
    holders, _ = people
    ceremony = staged_root(people, workspace)
    round_ = ceremony.signing_round("root")
    asked: list[str] = []
    with unplugged(softhsm_conf, holders[0].serial, tmp_path / "aside"):
        step = round_.poll()
        assert isinstance(step, rounds.WrongToken)
        assert step.holder is not None and step.holder.owner == "Alice"
        assert step.token is not None
        step = round_.skip()
        assert isinstance(step, rounds.PinNeeded) and step.holder.owner == "Bob"
    assert asked == []
    step = round_.sign(lambda p: asked.append(p) or USER_PIN)
    assert isinstance(step, rounds.Signed) and len(asked) == 1
    step = round_.poll()
    assert isinstance(step, rounds.PinNeeded) and step.holder.owner == "Carol"


def test_token_pulled_out_before_login_loses_nothing(people, workspace, softhsm_conf, tmp_path):
    holders, _ = people
    ceremony = staged_root(people, workspace)
    round_ = ceremony.signing_round("root")
    step = round_.poll()
    assert isinstance(step, rounds.PinNeeded) and step.holder.owner == "Alice"
    before = files_of(workspace / "staged")
    with unplugged(softhsm_conf, holders[0].serial, tmp_path / "aside"):
        step = round_.sign(pin)
        assert isinstance(step, rounds.TokenLost)
        assert step.error is not None and "Alice" not in step.error.problem
        assert files_of(workspace / "staged") == before
    step = round_.poll()
    assert isinstance(step, rounds.PinNeeded) and step.holder.owner == "Alice"
    assert isinstance(round_.sign(pin), rounds.Signed)


def test_wrong_pin_is_a_step_with_the_token_state(people, workspace):
    ceremony = staged_root(people, workspace)
    round_ = ceremony.signing_round("root")
    round_.poll()
    before = files_of(workspace / "staged")
    step = round_.sign(lambda _p: "wrong-pin")
    assert isinstance(step, rounds.PinRefused)
    assert step.error is not None and "wrong PIN" in step.error.problem
    assert step.token is not None and step.token.pin_state != ()
    assert files_of(workspace / "staged") == before
    assert isinstance(round_.sign(pin), rounds.Signed)


def test_two_signers_at_once_both_kept(people, workspace):
    """Each round read the proposal before the other saved: both signatures stay."""
    holders, _ = people
    staged_root(people, workspace)
    first = session(workspace).signing_round("root", token=holders[0].token)
    second = session(workspace).signing_round("root", token=holders[1].token)
    assert isinstance(first.poll(), rounds.PinNeeded)
    assert isinstance(second.poll(), rounds.PinNeeded)
    assert isinstance(first.sign(pin), rounds.Signed)
    assert isinstance(second.sign(pin), rounds.Signed)
    staged = Workspace.open(workspace).staged_payload("root")
    assert set(staged.signatures) == {holders[0].keyid, holders[1].keyid}


def test_tokens_are_values(people, workspace):
    holders, _ = people
    ceremony = session(workspace)
    infos = {t.serial: t for t in ceremony.tokens() if t.present and t.initialized}
    assert holders[0].serial in infos
    info = infos[holders[0].serial]
    assert info.label == holders[0].token and info.pin_state == ("ok",)
    keys = ceremony.token_keys(holders[0].serial)
    assert [k.keyid for k in keys] == [holders[0].keyid]
    assert keys[0].evidence is None  # not logged in: public keys only
    with_evidence = ceremony.token_keys(holders[0].serial, pin)
    assert with_evidence[0].born_on_token is True


# --------------------------------------------------------------- helpers


def publish_root_v1(people, workspace: Path) -> None:
    ceremony = staged_root(people, workspace)
    round_ = ceremony.signing_round("root")
    step = round_.poll()
    while isinstance(step, rounds.PinNeeded | rounds.Signed):
        step = round_.sign(pin) if isinstance(step, rounds.PinNeeded) else round_.poll()
    assert isinstance(step, rounds.Done) and step.complete
    ceremony.publish(ceremony.plan_publish("root"))
    ceremony.close()
