"""Key attestation against SoftHSM: certificates the test makes, stored with the key.

The test plays the device maker: a root CA, a device (f9) certificate and a
per-key attestation certificate with Yubico's PIV extensions, made with
cryptography and stored on the token beside a key our token layer made,
the way ykcs11 shows them. Good chain, wrong chain, mismatched key,
missing attestation, wrong device and weak policy each give their result.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pkcs11 import Attribute, CertificateType, ObjectClass
from securesystemslib.signer import SSlibKey
from tuf.api.metadata import Root

from ceremony import attest, devices, tokens
from ceremony.keys import crypto_public_key
from tests.conftest import USER_PIN
from tests.kit import ceremony

NOW = datetime.now(UTC)
SERIAL = 12345678


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _cert(subject, public, issuer_name, issuer_key, *, ca, extensions=(), days=3650, start=-1):
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=start))
        .not_valid_after(NOW + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for oid, value in extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class Maker:
    """A device maker: root CA and a device certificate (slot f9)."""

    def __init__(self, name: str = "Test PIV Root CA", device_days: int = 3650) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _cert(name, self.root_key.public_key(), _name(name), self.root_key, ca=True)
        self.device_key = ec.generate_private_key(ec.SECP256R1())
        self.device = _cert(
            "Test PIV Attestation",
            self.device_key.public_key(),
            self.root.subject,
            self.root_key,
            ca=True,
            days=device_days,
        )

    def attest(self, public, firmware: str, serial=SERIAL, pin=2, touch=2) -> x509.Certificate:
        extensions = [
            (attest.OID_FIRMWARE, bytes(int(p) for p in firmware.split("."))),
            (attest.OID_SERIAL, b"\x02\x04" + serial.to_bytes(4, "big")),
            (attest.OID_POLICY, bytes([pin, touch])),
            (attest.OID_FORM_FACTOR, b"\x01"),
        ]
        return _cert(
            "YubiKey PIV Attestation 9c",
            public,
            self.device.subject,
            self.device_key,
            ca=False,
            extensions=extensions,
        )

    def pem(self, path: Path) -> Path:
        path.write_bytes(self.root.public_bytes(Encoding.PEM))
        return path


def _store(session, cert: x509.Certificate, key_id: bytes, label: str) -> None:
    session.create_object(
        {
            Attribute.CLASS: ObjectClass.CERTIFICATE,
            Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.LABEL: label,
            Attribute.ID: key_id,
            Attribute.SUBJECT: cert.subject.public_bytes(),
            Attribute.VALUE: cert.public_bytes(Encoding.DER),
        }
    )


@pytest.fixture
def device(lib, make_token):
    """A token with key 'k' and the maker's certificates (leaf chosen per test)."""

    def make(leaf_for=None, store_leaf=True, **attest_args):
        label = make_token("attest")
        token = tokens.find_token(lib, label)
        firmware = tokens.describe_token(token.slot).firmware + ".1"
        maker = Maker()
        with tokens.logged_in(token, lambda _p: USER_PIN, rw=True) as session:
            key = tokens.generate_key(session, "ecdsa-p256", "k", owner="Alice")
            public = crypto_public_key(key.public, key.key_type)
            subject = leaf_for or public
            if store_leaf:
                leaf = maker.attest(subject, firmware, **attest_args)
                _store(session, leaf, key.key_id, "X.509 Certificate for PIV Attestation 9c")
            _store(session, maker.device, b"\x19", "X.509 Certificate for PIV Attestation")
        return label, maker, public

    return make


def test_good_chain_verified(device, tmp_path, capsys):
    label, maker, _ = device()
    ca = maker.pem(tmp_path / "ca.pem")
    assert (
        ceremony(
            tmp_path, "key", "attest", "--token", label, "--ca", str(ca), "--serial", str(SERIAL)
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"k: verified: device serial {SERIAL}" in out
    assert "PIN policy once, touch policy always" in out
    assert "Test PIV Root CA" in out
    capsys.readouterr()
    assert ceremony(tmp_path, "key", "attest", "--token", label, "--ca", str(ca), "--json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["status"] == "verified" and row["root_sha256"] == attest.fingerprint(maker.root)
    assert row["firmware"].endswith(".1") and len(row["certificates"]) == 2


def test_wrong_chain(device, tmp_path, capsys):
    label, _maker, _ = device()
    other = Maker("Some Other Root CA").pem(tmp_path / "other.pem")
    assert ceremony(tmp_path, "key", "attest", "--token", label, "--ca", str(other)) == 1
    out = capsys.readouterr().out
    assert "wrong-chain: no trusted root CA or intermediate signed" in out


def test_mismatched_key(device, tmp_path, capsys):
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    label, maker, _ = device(leaf_for=stranger)
    ca = maker.pem(tmp_path / "ca.pem")
    assert ceremony(tmp_path, "key", "attest", "--token", label, "--ca", str(ca)) == 1
    assert "key-mismatch: the attestation certificate stored with key" in capsys.readouterr().out


def test_missing_attestation(device, tmp_path, capsys):
    label, maker, _ = device(store_leaf=False)
    ca = maker.pem(tmp_path / "ca.pem")
    assert ceremony(tmp_path, "key", "attest", "--token", label, "--ca", str(ca)) == 1
    assert "missing: no attestation certificate is stored with key" in capsys.readouterr().out


def test_other_device_and_weak_policies(device, tmp_path, capsys):
    label, maker, _ = device(touch=1)
    ca = str(maker.pem(tmp_path / "ca.pem"))
    assert ceremony(tmp_path, "key", "attest", "--token", label, "--ca", ca, "--serial", "7") == 1
    assert f"device-mismatch: the attestation is for device serial {SERIAL}, not 7" in (
        capsys.readouterr().out
    )
    assert ceremony(tmp_path, "key", "attest", "--token", label, "--ca", ca) == 0
    capsys.readouterr()
    assert ceremony(tmp_path, "key", "attest", "--token", label, "--ca", ca, "--require-touch") == 1
    assert "policy-not-met: the key's touch policy is never" in capsys.readouterr().out
    label2, maker2, _ = device(pin=1)
    ca2 = str(maker2.pem(tmp_path / "ca2.pem"))
    assert ceremony(tmp_path, "key", "attest", "--token", label2, "--ca", ca2) == 1
    assert "the key's PIN policy is never" in capsys.readouterr().out


def test_expired_device_certificate_is_a_wrong_chain():
    maker = Maker(device_days=-1)
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    leaf = maker.attest(public, "5.7.1")
    result = attest.attest_public_key(
        public,
        [("attestation", leaf.public_bytes(Encoding.DER))],
        [maker.device.public_bytes(Encoding.DER)],
        [maker.root],
    )
    assert result.status == attest.WRONG_CHAIN and "is not valid now" in result.problem


def test_record_in_root_rechecked_later(device, lib, tmp_path, capsys):
    """The record goes at the top of root's signed; anyone re-checks it offline."""
    label, maker, public = device()
    token = tokens.find_token(lib, label)
    [(_, result)] = attest.from_token(token, [maker.root])
    assert result.ok
    tuf_key = SSlibKey.from_crypto(public)
    root = Root()
    root.add_key(tuf_key, "root")
    signed = root.to_dict()
    signed[attest.ATTESTATIONS_FIELD] = attest.attestations_field({tuf_key.keyid: result})
    assert Root.from_dict(json.loads(json.dumps(signed))).keys[tuf_key.keyid] == tuf_key
    metadata = tmp_path / "root.json"
    metadata.write_text(json.dumps({"signatures": [], "signed": signed}))
    ca = str(maker.pem(tmp_path / "ca.pem"))
    assert ceremony(tmp_path, "key", "attest", "--metadata", str(metadata), "--ca", ca) == 0
    assert f"{tuf_key.keyid}: verified" in capsys.readouterr().out
    other = str(Maker("Another Root").pem(tmp_path / "other.pem"))
    assert ceremony(tmp_path, "key", "attest", "--metadata", str(metadata), "--ca", other) == 1


def test_bad_ca_file_is_bad_input(tmp_path, capsys):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    assert ceremony(tmp_path, "key", "attest", "--metadata", str(bad), "--ca", str(bad)) == 2
    assert "holds no PEM certificate" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("manufacturer", "model", "firmware", "name", "ed25519"),
    [
        ("SoftHSM project", "SoftHSM v2", "2.6", "softhsm", True),
        ("Yubico (www.yubico.com)", "YubiKey YK5", "5.4", "yubikey-piv", False),
        ("Yubico (www.yubico.com)", "YubiKey YK5", "5.7", "yubikey-piv", True),
        ("www.CardContact.de", "PKCS#15 emulated (Nitrokey HSM)", "1.0", "nitrokey-opensc", False),
        ("IBM Corp.", "IBM SoftTok", "1.0", "opencryptoki-sw", False),
        ("SafeNet", "Luna K7", "7.7", "network-hsm", True),
        ("Acme", "Widget", "1.0", "generic", True),
    ],
)
def test_device_profiles(manufacturer, model, firmware, name, ed25519):
    profile = devices.profile_for(manufacturer, model, firmware)
    assert profile.name == name
    assert profile.can_make("ed25519") is ed25519
    assert profile.default_key_type in profile.key_types


def test_piv_slots_by_key_id():
    assert devices.piv_slot(b"\x02") == "9c" and devices.piv_slot(b"\x19") == "f9"
    assert devices.piv_slot(b"\x05") == "82" and devices.piv_slot(b"\x18") == "95"
    assert devices.piv_slot(b"\x1a") is None and devices.piv_slot(b"\x01\x02") is None
    yubikey = devices.profile_for("Yubico", "YubiKey YK5")
    assert yubikey.generation_login == "so" and yubikey.default_key_id == devices.PIV_SIGNING_ID


def test_attestation_recorded_and_named_in_the_next_root(device, lib, make_token, tmp_path, capsys):
    """In a workspace the check is recorded and kept; root init names it in signed."""
    from ceremony import audit
    from ceremony.workspace import Workspace
    from tests.kit import make_people, root_args

    workspace = tmp_path / "ws"
    assert ceremony(workspace, "audit", "start", "--new-workspace", "--title", "Keys") == 0
    label, maker, public = device()
    ca = str(maker.pem(tmp_path / "ca.pem"))
    assert ceremony(workspace, "key", "attest", "--token", label, "--ca", ca) == 0
    keyid = SSlibKey.from_crypto(public).keyid
    transcript = audit.Transcript.current(workspace)
    assert transcript is not None
    events = [r for r in audit.read_records(transcript.path)[0] if r["event"] == "attestation"]
    assert events and events[-1]["details"]["status"] == "verified"
    assert (workspace / "keys" / "attestations" / f"{keyid}.json").is_file()

    holders, online = make_people(lib, make_token, tmp_path / "keys-in")
    attested = tmp_path / "attested.json"
    attested.write_text(json.dumps({"keyid": keyid, **SSlibKey.from_crypto(public).to_dict()}))
    args = [*root_args(holders, online), "--key", f"root={attested}"]
    assert ceremony(workspace, *args) == 0
    signed = Workspace.open(workspace).staged("root").signed
    assert list(signed.unrecognized_fields[attest.ATTESTATIONS_FIELD]) == [keyid]
    staged = str(workspace / "staged" / "root.json")
    capsys.readouterr()
    assert ceremony(workspace, "key", "attest", "--metadata", staged, "--ca", ca) == 0
    assert f"{keyid}: verified" in capsys.readouterr().out
    assert ceremony(workspace, "review", "root") == 0
    assert "Device attestations recorded for: " in capsys.readouterr().out
