"""The fault-injecting PKCS#11 module: it forwards, and fails exactly when told.

Everything here goes through real PKCS#11 calls into SoftHSM2, through the
module built from tests/faultpkcs11/faultpkcs11.c by the test suite.
"""

from __future__ import annotations

import hashlib

import pytest
from pkcs11 import Mechanism
from pkcs11 import exceptions as pk_exc
from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import Signature

from ceremony import tokens
from ceremony.errors import PinError, SignatureError, TokenError
from ceremony.keys import tuf_key_from_token, uri_for
from ceremony.signer import Pkcs11Signer
from ceremony.tokens import TokenPool
from tests.conftest import USER_PIN

PAYLOAD = b'{"signed":"payload"}'


def _pin(_prompt: str) -> str:
    return USER_PIN


@pytest.fixture
def fault_lib(faults):
    return tokens.load_module(faults.path)


def _token_with_key(fault_lib, make_token, key_type="ecdsa-p256"):
    """A fresh token with one key made through the fault module."""
    label = make_token("fault")
    token = tokens.find_token(fault_lib, label)
    with tokens.logged_in(token, _pin, rw=True) as session:
        key = tokens.generate_key(session, key_type, "k1", owner="Fay")
        tuf_key = tuf_key_from_token(token, key)
    return label, token, tuf_key


def test_forwards_token_listing_key_generation_and_signing(faults, lib, fault_lib, make_token):
    assert fault_lib is not lib
    label, token, tuf_key = _token_with_key(fault_lib, make_token)
    as_seen = [info.to_dict() for info in tokens.list_tokens(fault_lib)]
    assert as_seen == [info.to_dict() for info in tokens.list_tokens(lib)]

    # The key made through the fault module is on the token SoftHSM holds.
    direct = tokens.find_token(lib, label)
    with tokens.logged_in(direct, _pin) as session:
        keys = tokens.list_keys(session)
        assert [k.label for k in keys] == ["k1"]
        assert keys[0].evidence.born_on_token
        assert tuf_key_from_token(direct, keys[0]).keyval == tuf_key.keyval

    pool = TokenPool(faults.path)
    try:
        signer = Pkcs11Signer(
            uri_for(token, _only_key(token)), tuf_key, _pin, pool=pool
        )
        signature = signer.sign(PAYLOAD)
    finally:
        pool.close()
    tuf_key.verify_signature(signature, PAYLOAD)  # checked again, outside the signer
    assert faults.fired() == []


def _only_key(token):
    with tokens.logged_in(token, _pin) as session:
        (key,) = tokens.list_keys(session)
        return key


def _raw_sign(key: tokens.TokenKey, payload: bytes = PAYLOAD) -> bytes:
    if key.key_type == tokens.KeyType.EC_EDWARDS:
        return key.private.sign(payload, mechanism=Mechanism.EDDSA)
    return key.private.sign(hashlib.sha256(payload).digest(), mechanism=Mechanism.ECDSA)


@pytest.mark.parametrize(
    ("rv", "code", "exception"),
    [
        ("CKR_DEVICE_REMOVED", 0x32, pk_exc.DeviceRemoved),
        ("CKR_TOKEN_NOT_PRESENT", 0xE0, pk_exc.TokenNotPresent),
        ("CKR_SESSION_HANDLE_INVALID", 0xB3, pk_exc.SessionHandleInvalid),
        ("CKR_FUNCTION_FAILED", 0x6, pk_exc.FunctionFailed),
        ("CKR_DEVICE_ERROR", 0x30, pk_exc.DeviceError),
        ("CKR_PIN_LOCKED", 0xA4, pk_exc.PinLocked),
        ("0x80000123", 0x80000123, pk_exc.PKCS11Error),
    ],
)
def test_sign_fails_on_the_nth_signature_only(
    faults, lib, fault_lib, make_token, rv, code, exception
):
    """'C_Sign 2 ...': the first and third signatures are made, the second
    fails with the chosen value; the length queries before each are not uses."""
    _label, token, _ = _token_with_key(fault_lib, make_token)
    with tokens.logged_in(token, _pin) as session:
        (key,) = tokens.list_keys(session)
        faults.arm(f"C_Sign 2 {rv} after")
        assert _raw_sign(key)
        with pytest.raises(exception):
            _raw_sign(key)
        assert _raw_sign(key)
    assert faults.fired() == [f"C_Sign 2 0x{code:x} after"]


def test_before_mode_never_reaches_the_token(faults, lib, fault_lib, make_token):
    """A refused C_Login is not a try spent: the PIN counter is untouched."""
    _label, token, _ = _token_with_key(fault_lib, make_token)
    faults.arm("C_Login 1 CKR_PIN_INCORRECT")
    with pytest.raises(PinError, match="wrong PIN"):
        tokens.open_user_session(token, _pin)
    assert faults.fired() == ["C_Login 1 0xa0"]
    assert tokens.describe_token(token.slot).pin_state == ("ok",)
    with tokens.logged_in(token, _pin) as session:  # rules changed nothing else
        assert tokens.list_keys(session)


@pytest.mark.parametrize(
    ("rv", "error", "words"),
    [
        ("CKR_PIN_LOCKED", PinError, "locked"),
        ("CKR_TOKEN_NOT_PRESENT", TokenError, "was removed"),
    ],
)
def test_login_faults_become_our_errors(faults, lib, fault_lib, make_token, rv, error, words):
    _label, token, _ = _token_with_key(fault_lib, make_token)
    faults.arm(f"C_Login 1 {rv}")
    with pytest.raises(error, match=words) as raised:
        tokens.open_user_session(token, _pin)
    assert USER_PIN not in str(raised.value.message())
    assert len(faults.fired()) == 1


def test_flip_changes_one_bit_of_one_signature(faults, lib, fault_lib, make_token):
    """Ed25519 signs deterministically: the flipped signature and the next,
    good one of the same payload differ in exactly one bit."""
    _label, token, tuf_key = _token_with_key(fault_lib, make_token, "ed25519")
    with tokens.logged_in(token, _pin) as session:
        (key,) = tokens.list_keys(session)
        faults.arm("C_Sign 1 flip")
        flipped = _raw_sign(key)
        good = _raw_sign(key)
    difference = int.from_bytes(flipped, "big") ^ int.from_bytes(good, "big")
    assert len(flipped) == len(good) == 64
    assert bin(difference).count("1") == 1
    tuf_key.verify_signature(Signature(tuf_key.keyid, good.hex()), PAYLOAD)
    with pytest.raises(UnverifiedSignatureError):
        tuf_key.verify_signature(Signature(tuf_key.keyid, flipped.hex()), PAYLOAD)
    assert faults.fired() == ["C_Sign 1 flip"]


def test_flipped_signature_is_caught_by_the_signer(faults, lib, fault_lib, make_token):
    _label, token, tuf_key = _token_with_key(fault_lib, make_token)
    pool = TokenPool(faults.path)
    signer = Pkcs11Signer(
        uri_for(token, _only_key(token)), tuf_key, _pin, pool=pool
    )
    try:
        faults.arm("C_Sign 1 flip")
        with pytest.raises(SignatureError, match="does not verify"):
            signer.sign(PAYLOAD)
        tuf_key.verify_signature(signer.sign(PAYLOAD), PAYLOAD)  # the next one is good
    finally:
        pool.close()
    assert faults.fired() == ["C_Sign 1 flip"]


def test_from_nth_use_on_and_any_function(faults, fault_lib, make_token):
    label = make_token("later")
    (slot,) = [s for s in fault_lib.get_slots(token_present=True) if s.get_token().label == label]
    faults.arm("C_GetTokenInfo 2+ CKR_DEVICE_REMOVED")
    assert slot.get_token().label == label
    for _ in range(2):
        with pytest.raises(pk_exc.DeviceRemoved):
            slot.get_token()
    assert faults.fired() == [
        "C_GetTokenInfo 2 0x32",
        "C_GetTokenInfo 3 0x32",
    ]
    faults.arm("* 1+ CKR_DEVICE_ERROR")
    with pytest.raises(pk_exc.DeviceError):
        fault_lib.get_slots()
    assert faults.fired() == ["C_GetSlotList 1 0x30"]
    faults.disarm()
    assert fault_lib.get_slots()


def test_after_mode_leaves_the_work_done(faults, lib, fault_lib, make_token):
    """'after': the token generates the pair, then the call reports a failure
    (the half-way case the engine must clean up or report)."""
    label = make_token("half")
    token = tokens.find_token(fault_lib, label)
    with tokens.logged_in(token, _pin, rw=True) as session:
        faults.arm("C_GenerateKeyPair 1 CKR_DEVICE_REMOVED after")
        with pytest.raises(pk_exc.DeviceRemoved):  # the raw call: no engine clean-up
            tokens._generate_pair(session, tokens.KEY_SPECS["ecdsa-p256"], "orphan", b"\x01")
    faults.disarm()
    with tokens.logged_in(tokens.find_token(lib, label), _pin) as session:
        assert [k.label for k in tokens.list_keys(session)] == ["orphan"]


def test_a_rule_it_cannot_read_fails_every_call_loudly(faults, fault_lib, capfd):
    faults.arm("C_Sign second CKR_DEVICE_REMOVED")
    with pytest.raises(pk_exc.GeneralError):
        fault_lib.get_slots()
    assert "faultpkcs11: cannot use rule: C_Sign second" in capfd.readouterr().err
    assert faults.fired() == []
