"""The pkcs11: Signer, registered with securesystemslib, on SoftHSM and opencryptoki."""

from __future__ import annotations

import pytest
from pkcs11 import Attribute
from securesystemslib.signer import SIGNER_FOR_URI_SCHEME, Signature, Signer

from ceremony import signer as signer_module
from ceremony import tokens
from ceremony.errors import KeyError_, SignatureError
from ceremony.keys import URI_FIELD, Pkcs11Uri, key_to_json, load_key_file, tuf_key_from_token
from ceremony.signer import Pkcs11Signer
from tests.backends import ALL
from tests.conftest import USER_PIN
from tests.test_tokens import make_extractable_key

PKCS11_BACKENDS = ALL


def _make_key(lib, token_label, pin, key_type=None, label="k"):
    token = tokens.find_token(lib, token_label)
    key_type = key_type or tokens.supported_key_types(token)[0]
    with tokens.logged_in(token, pin, rw=True) as session:
        key = tokens.generate_key(session, key_type, label, owner="Carol")
        return tuf_key_from_token(token, key)


def test_registered_for_pkcs11_scheme():
    assert SIGNER_FOR_URI_SCHEME["pkcs11"] is Pkcs11Signer


@pytest.mark.parametrize("key_type", list(tokens.KEY_SPECS))
def test_export_sign_verify_every_type(backend, lib, make_token, pin, tmp_path, key_type):
    if not backend.profile.can_make(key_type):
        pytest.skip(f"{backend.profile.title} makes no {key_type} keys (its device profile)")
    tuf_key = _make_key(lib, make_token("sig"), pin, key_type)
    path = tmp_path / "key.json"
    path.write_bytes(key_to_json(tuf_key))
    exported = load_key_file(path)  # what a ceremony administrator receives
    assert exported.keyid == tuf_key.keyid
    uri = exported.unrecognized_fields[URI_FIELD]
    signer = Signer.from_priv_key_uri(uri, exported, pin)
    payload = b"signed by " + key_type.encode()
    signature = signer.sign(payload)
    exported.verify_signature(signature, payload)
    with pytest.raises(Exception):  # noqa: B017 -- any verification failure
        exported.verify_signature(signature, payload + b"!")


def test_one_login_serves_many_signatures(lib, make_token):
    asked = []

    def handler(prompt):
        asked.append(prompt)
        return USER_PIN

    label = make_token("many")
    key_a = _make_key(lib, label, handler, label="a")
    key_b = _make_key(lib, label, handler, label="b")
    asked.clear()
    signers = [
        Signer.from_priv_key_uri(k.unrecognized_fields[URI_FIELD], k, handler)
        for k in (key_a, key_b)
    ]
    for index in range(20):
        for s in signers:
            s.public_key.verify_signature(s.sign(b"%d" % index), b"%d" % index)
    assert len(asked) == 1, "one PIN for every signature on one token"
    assert label in asked[0]  # the prompt names the token to insert


def test_finds_token_by_label_when_serial_unknown(lib, make_token, pin):
    label = make_token("fallback")
    key = _make_key(lib, label, pin)
    uri = Pkcs11Uri.parse(key.unrecognized_fields[URI_FIELD])
    moved = Pkcs11Uri(token=uri.token, serial="0000000000000000", object=uri.object, id=uri.id)
    signer = Pkcs11Signer(moved, key, pin, pool=signer_module.default_pool())
    key.verify_signature(signer.sign(b"x"), b"x")


def test_extractable_key_refused_without_override(backend, lib, make_token, pin):
    label = make_token("exportable")
    token = tokens.find_token(lib, label)
    with tokens.logged_in(token, pin, rw=True) as session:
        make_extractable_key(session, "weak", backend.key_type)
        [weak] = tokens.list_keys(session)
        tuf_key = tuf_key_from_token(token, weak)
    uri = tuf_key.unrecognized_fields[URI_FIELD]
    with pytest.raises(KeyError_) as caught:
        Signer.from_priv_key_uri(uri, tuf_key, pin).sign(b"payload")
    assert "EXTRACTABLE=True" in caught.value.problem
    assert "--allow-exportable" in caught.value.fix
    signer_module.default_pool().close()
    allowed = Pkcs11Signer(
        Pkcs11Uri.parse(uri), tuf_key, pin, pool=signer_module.default_pool(), allow_exportable=True
    )
    tuf_key.verify_signature(allowed.sign(b"payload"), b"payload")


def test_key_that_may_not_sign_refused(backend, lib, make_token, pin):
    label = make_token("nosign")
    token = tokens.find_token(lib, label)
    with tokens.logged_in(token, pin, rw=True) as session:
        kept = {Attribute.SIGN: False, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}
        make_extractable_key(session, "decrypt-only", backend.key_type, kept)
        [key] = tokens.list_keys(session)
        tuf_key = tuf_key_from_token(token, key)
    uri = tuf_key.unrecognized_fields[URI_FIELD]
    with pytest.raises(KeyError_) as caught:
        Pkcs11Signer(Pkcs11Uri.parse(uri), tuf_key, pin, pool=signer_module.default_pool()).sign(
            b"x"
        )
    assert "not allowed to sign" in caught.value.problem
    assert "CKA_SIGN" in caught.value.problem


def test_wrong_key_for_metadata_refused(lib, make_token, pin):
    label = make_token("swap")
    real = _make_key(lib, label, pin, label="real")
    other = _make_key(lib, label, pin, label="other")
    uri = other.unrecognized_fields[URI_FIELD]
    with pytest.raises(KeyError_) as caught:
        Pkcs11Signer(Pkcs11Uri.parse(uri), real, pin, pool=signer_module.default_pool()).sign(
            b"x"
        )
    assert "is not the key" in caught.value.problem


def test_bad_signature_from_token_is_caught(lib, make_token, pin, monkeypatch):
    key = _make_key(lib, make_token("bad"), pin)
    signer = Signer.from_priv_key_uri(key.unrecognized_fields[URI_FIELD], key, pin)
    real = Pkcs11Signer._raw_sign

    def flipped(k, spec, payload):
        raw = bytearray(real(k, spec, payload))
        raw[-1] ^= 0x01
        return bytes(raw)

    monkeypatch.setattr(Pkcs11Signer, "_raw_sign", staticmethod(flipped))
    with pytest.raises(SignatureError):
        signer.sign(b"payload")


def test_signature_type():
    assert Signature("ab", "cd").keyid == "ab"
