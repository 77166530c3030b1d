"""TUF key files and pkcs11: URIs."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib.signer import SSlibKey

from ceremony.errors import BadInput
from ceremony.keys import OWNER_FIELD, Pkcs11Uri, key_to_json, load_key_file, owner_of


def test_uri_round_trip_with_awkward_values():
    uri = Pkcs11Uri(token="My Token;1", serial="abc", object="root/1 %", id=b"\x00\xff;")
    text = str(uri)
    assert text.startswith("pkcs11:token=My%20Token%3B1;serial=abc;")
    assert "id=%00%ff%3b" in text
    assert Pkcs11Uri.parse(text) == uri


def test_uri_with_module_path():
    uri = Pkcs11Uri.parse("pkcs11:token=t;id=%01?module-path=/usr/lib/x.so")
    assert uri.module_path == "/usr/lib/x.so" and uri.id == b"\x01"


def test_not_a_pkcs11_uri():
    with pytest.raises(BadInput):
        Pkcs11Uri.parse("hsm:2")


def _pem(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "private", [ec.generate_private_key(ec.SECP256R1()), ed25519.Ed25519PrivateKey.generate()]
)
def test_pem_key_file(tmp_path, private):
    path = tmp_path / "k.pem"
    path.write_bytes(_pem(private.public_key()))
    key = load_key_file(path, owner="Dana")
    assert key.keyid == SSlibKey.from_crypto(private.public_key()).keyid
    assert owner_of(key) == "Dana"


def test_json_key_round_trip(tmp_path):
    key = SSlibKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key())
    key.unrecognized_fields[OWNER_FIELD] = "Erin"
    path = tmp_path / "k.json"
    path.write_bytes(key_to_json(key))
    loaded = load_key_file(path)
    assert loaded == key


def test_keyid_mismatch_refused(tmp_path):
    key = SSlibKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key())
    document = json.loads(key_to_json(key))
    document["keyid"] = "0" * 64
    path = tmp_path / "k.json"
    path.write_text(json.dumps(document))
    with pytest.raises(BadInput) as caught:
        load_key_file(path)
    assert "does not match" in caught.value.problem


def test_duplicate_json_keys_refused(tmp_path):
    path = tmp_path / "k.json"
    path.write_text('{"keytype": "ecdsa", "keytype": "ed25519", "scheme": "x", "keyval": {}}')
    with pytest.raises(BadInput) as caught:
        load_key_file(path)
    assert "duplicate" in caught.value.problem


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b'{"keytype": "ecdsa"}'])
def test_garbage_key_files_refused(tmp_path, content):
    path = tmp_path / "k.json"
    path.write_bytes(content)
    with pytest.raises(BadInput):
        load_key_file(path)


def test_bad_pem_refused(tmp_path):
    path = tmp_path / "k.pem"
    path.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(BadInput):
        load_key_file(path)
