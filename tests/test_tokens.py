"""The token layer through real PKCS#11 calls, on SoftHSM2 and on opencryptoki.

What differs between the two (key types, serials) comes from their device
profiles in ceremony.devices; the first test checks each profile against
the mechanisms the module really reports.
"""

from __future__ import annotations

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from ceremony import modules, tokens
from ceremony.errors import KeyError_, ModuleError, PinError, TokenError
from tests.backends import ALL
from tests.conftest import SO_PIN, USER_PIN

PKCS11_BACKENDS = ALL


def test_missing_module_names_the_path(tmp_path):
    missing = tmp_path / "nope.so"
    with pytest.raises(ModuleError) as caught:
        tokens.load_module(missing)
    assert str(missing) in caught.value.problem


def test_module_that_fails_to_load_names_the_path(tmp_path):
    bogus = tmp_path / "bogus.so"
    bogus.write_bytes(b"not an ELF file")
    with pytest.raises(ModuleError) as caught:
        tokens.load_module(bogus)
    assert str(bogus) in caught.value.problem and "failed to load" in caught.value.problem


def test_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("CEREMONY_PKCS11_MODULE", "/from/env.so")
    assert str(modules.resolve_module_path("/explicit.so", "/config.so")) == "/explicit.so"
    assert str(modules.resolve_module_path(None, "/config.so")) == "/from/env.so"
    monkeypatch.delenv("CEREMONY_PKCS11_MODULE")
    assert str(modules.resolve_module_path(None, "/config.so")) == "/config.so"
    assert modules.resolve_module_path(None, None).is_file()


def test_device_profile_matches_the_module(backend, make_token):
    """The profile's key types are exactly what the token's mechanisms allow."""
    token = tokens.find_token(backend.lib, make_token("profile"))
    assert set(tokens.supported_key_types(token)) == set(backend.profile.key_types)
    assert (
        backend.profile.name
        == {"softhsm": "softhsm", "opencryptoki": "opencryptoki-sw"}[backend.name]
    )


def test_list_shows_initialised_token(backend, lib, make_token):
    label = make_token("list")
    infos = {info.label: info for info in tokens.list_tokens(lib)}
    info = infos[label]
    assert info.present and info.initialized and info.login_required
    assert (
        info.serial
        and info.model == {"softhsm": "SoftHSM v2", "opencryptoki": "IBM SoftTok"}[backend.name]
    )
    assert info.pin_state == ("ok",)
    assert not info.pin_pad
    if backend.name == "softhsm":
        assert any(not i.initialized for i in infos.values()), "SoftHSM keeps a free slot"


def test_missing_token_is_clear(lib):
    with pytest.raises(TokenError) as caught:
        tokens.find_token(lib, "no-such-token")
    assert "no token with serial or label 'no-such-token'" in caught.value.problem
    assert "ceremony token list" in caught.value.fix


def test_find_by_serial_and_label(backend, lib, make_token):
    label = make_token("find")
    by_label = tokens.find_token(lib, label)
    if not backend.profile.unique_serials:
        make_token("find")  # a second token with the same serial
        with pytest.raises(TokenError):
            tokens.find_token(lib, tokens.serial_of(by_label))
        return
    by_serial = tokens.find_token(lib, tokens.serial_of(by_label))
    assert by_serial.label.strip() == label


@pytest.mark.parametrize("key_type", list(tokens.KEY_SPECS))
def test_generate_every_key_type_with_evidence(backend, lib, make_token, pin, key_type):
    if not backend.profile.can_make(key_type):
        pytest.skip(f"{backend.profile.title} makes no {key_type} keys (its device profile)")
    token = tokens.find_token(lib, make_token("gen"))
    with tokens.logged_in(token, pin, rw=True) as session:
        key = tokens.generate_key(session, key_type, "k1", owner="Alice Example")
        attrs = key.private.get_attributes(
            [
                Attribute.TOKEN,
                Attribute.PRIVATE,
                Attribute.SENSITIVE,
                Attribute.EXTRACTABLE,
                Attribute.SIGN,
                Attribute.DECRYPT,
            ]
        )
        assert attrs[Attribute.TOKEN] and attrs[Attribute.PRIVATE] and attrs[Attribute.SENSITIVE]
        assert attrs[Attribute.EXTRACTABLE] is False
        assert attrs[Attribute.SIGN] and not attrs[Attribute.DECRYPT]
        assert key.evidence.born_on_token, key.evidence
        assert len(key.key_id) == 16
        assert tokens.spec_for_key(key.public, key.key_type).name == key_type
    # read back in a fresh session: the key and its owner note persisted
    with tokens.logged_in(token, pin) as session:
        [found] = tokens.list_keys(session)
        owner = "Alice Example" if backend.profile.owner_notes else None
        assert found.label == "k1" and found.owner == owner


def test_duplicate_label_refused(backend, lib, make_token, pin):
    token = tokens.find_token(lib, make_token("dup"))
    with tokens.logged_in(token, pin, rw=True) as session:
        tokens.generate_key(session, backend.key_type, "same")
        with pytest.raises(KeyError_) as caught:
            tokens.generate_key(session, backend.profile.key_types[-1], "same")
        assert "already exists" in caught.value.problem
        assert len(tokens.list_keys(session)) == 1


def test_unknown_key_type_refused(lib, make_token, pin):  # the same on every module
    token = tokens.find_token(lib, make_token("kt"))
    with tokens.logged_in(token, pin, rw=True) as session, pytest.raises(KeyError_) as caught:
        tokens.generate_key(session, "dsa-1024", "x")
    assert "ecdsa-p256" in caught.value.fix


def test_unsupported_mechanism_is_clear(backend, lib, make_token, pin, monkeypatch):
    """A token without EdDSA: the module's real mechanism list, with EdDSA taken out."""
    token = tokens.find_token(lib, make_token("noeddsa"))
    real = tokens.token_mechanisms

    def without_eddsa(tok):
        return real(tok) - {pkcs11.Mechanism.EDDSA, pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN}

    monkeypatch.setattr(tokens, "token_mechanisms", without_eddsa)
    with tokens.logged_in(token, pin, rw=True) as session, pytest.raises(TokenError) as caught:
        tokens.generate_key(session, "ed25519", "ed")
    message = caught.value.message()
    assert "cannot make ed25519 keys" in message and "EDDSA" in message
    assert backend.key_type in message  # names what does work
    assert "CKR" not in message


def test_wrong_pin_reports_state_and_does_not_retry(lib, make_token):
    token = tokens.find_token(lib, make_token("pin"))
    calls = []

    def wrong(prompt):
        calls.append(prompt)
        return "000000"

    with pytest.raises(PinError) as caught, tokens.logged_in(token, wrong):
        pass
    assert calls and len(calls) == 1, "the PIN is asked once and never retried"
    assert "wrong PIN" in caught.value.problem
    assert "tries low" in caught.value.problem  # both set COUNT_LOW after a failure
    assert "000000" not in caught.value.message()
    # the right PIN still works afterwards
    with tokens.logged_in(token, lambda _p: USER_PIN) as session:
        assert session.token.label.strip() == token.label.strip()


def test_wrong_pin_leaves_no_session_open(lib, module_path, make_token):
    """After a wrong PIN the token has no session of ours: the security officer
    can log in (PKCS#11 refuses SO login while a read-only session exists).
    python-pkcs11 0.10 leaves the failed login's session open; we close it."""
    token = tokens.find_token(lib, make_token("leak"))
    with (
        pytest.raises(PinError),
        tokens.logged_in(token, lambda _p: "000000", module_path=module_path),
    ):
        pass
    with token.open(rw=True, so_pin=SO_PIN) as session:
        assert session


def test_final_try_needs_confirmation(lib, make_token, monkeypatch):
    token = tokens.find_token(lib, make_token("final"))
    real = tokens._refresh_flags
    monkeypatch.setattr(
        tokens, "_refresh_flags", lambda t: real(t) | tokens.TokenFlag.USER_PIN_FINAL_TRY
    )
    asked = []
    with pytest.raises(PinError) as caught:
        tokens.open_user_session(token, lambda p: asked.append(p) or USER_PIN)
    assert "one PIN try left" in caught.value.problem and "--final-try" in caught.value.fix
    assert not asked, "no PIN is asked for, let alone tried"
    session = tokens.open_user_session(token, lambda p: USER_PIN, final_try=True)
    tokens.close_session(session)


def test_sessions_closed_after_errors(lib, make_token, pin):
    token = tokens.find_token(lib, make_token("close"))
    with pytest.raises(RuntimeError), tokens.logged_in(token, pin):
        raise RuntimeError("boom")
    # a logged-out token accepts a new login (SoftHSM refuses a second
    # C_Login while a session is still logged in: UserAlreadyLoggedIn)
    with tokens.logged_in(token, pin) as session:
        assert session


def test_reinitialise_refused_without_erase(backend, lib, module_path, make_token, pin):
    label = make_token("reinit")
    token = tokens.find_token(lib, label)
    with tokens.logged_in(token, pin, rw=True) as session:
        tokens.generate_key(session, backend.key_type, "precious")
    with pytest.raises(TokenError) as caught:
        tokens.init_token(
            lib, module_path, label="new", so_pin=SO_PIN, user_pin=USER_PIN, selector=label
        )
    assert "precious" in caught.value.problem and "--erase" in caught.value.fix
    tokens.find_token(lib, label)  # untouched
    tokens.init_token(
        lib,
        module_path,
        label=label + "-new",
        so_pin=SO_PIN,
        user_pin=USER_PIN,
        selector=label,
        erase=True,
    )
    fresh = tokens.find_token(lib, label + "-new")
    with tokens.logged_in(fresh, pin) as session:
        assert tokens.list_keys(session) == []


def test_find_key_by_id_or_label_among_several(backend, lib, make_token, pin):
    """The key asked for alone is the one the whole list holds, owner note and
    evidence included; a missing one names what is there; two keys sharing a
    CKA_ID are refused, not guessed between."""
    token = tokens.find_token(lib, make_token("find"))
    with tokens.logged_in(token, pin, rw=True) as session:
        made = [
            tokens.generate_key(session, backend.key_type, f"k{n}", owner=f"Holder {n}")
            for n in range(3)
        ]
        listed = {k.key_id: k for k in tokens.list_keys(session)}
        for key in made:
            by_id = tokens.find_key(session, key_id=key.key_id)
            by_label = tokens.find_key(session, label=key.label)
            for found in (by_id, by_label):
                whole = listed[key.key_id]
                assert (found.label, found.key_id, found.owner) == (
                    whole.label,
                    whole.key_id,
                    whole.owner,
                )
                assert found.evidence == whole.evidence and found.public is not None
        with pytest.raises(KeyError_) as caught:
            tokens.find_key(session, key_id=b"\x00" * 16)
        assert "k0, k1, k2" in caught.value.problem
        make_extractable_key(session, "twin-a", backend.key_type)
        make_extractable_key(session, "twin-b", backend.key_type)  # the same CKA_ID
        with pytest.raises(KeyError_) as caught:
            tokens.find_key(session, key_id=b"\x01\x02")
        assert "2 keys with id 0102" in caught.value.problem


def test_extractable_key_reported(backend, lib, make_token, pin):
    """A key made by the test directly through python-pkcs11, extractable."""
    token = tokens.find_token(lib, make_token("weak"))
    with tokens.logged_in(token, pin, rw=True) as session:
        make_extractable_key(session, "weak", backend.key_type)
        [key] = tokens.list_keys(session)
        assert not key.evidence.born_on_token
        assert "EXTRACTABLE=True" in key.evidence.failures()


def make_extractable_key(
    session: pkcs11.Session,
    label: str,
    key_type: str = "ecdsa-p256",
    weak: dict[Attribute, bool] | None = None,
) -> None:
    """A key pair made outside this tool, by default one that can be copied off."""
    weak = weak or {Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False}
    spec = tokens.KEY_SPECS[key_type]
    if spec.key_type == KeyType.RSA:
        session.generate_keypair(
            KeyType.RSA, spec.bits, store=True, label=label, id=b"\x01\x02", private_template=weak
        )
    else:
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        params.generate_keypair(store=True, label=label, id=b"\x01\x02", private_template=weak)
    assert list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))


def test_attributes_read_one_at_a_time_when_the_batch_is_refused():
    """Some modules refuse a C_GetAttributeValue with several attributes: each
    is then read alone, and one the object lacks is left out (logic only; the
    batch itself is exercised on SoftHSM by every key listed above)."""

    class Refuses:
        values = {Attribute.LABEL: "k", Attribute.LOCAL: True}  # noqa: RUF012

        def get_attributes(self, wanted):
            raise pkcs11.exceptions.GeneralError("batch refused")

        def __getitem__(self, attribute):
            if attribute not in self.values:
                raise pkcs11.exceptions.AttributeTypeInvalid()
            return self.values[attribute]

    read = tokens._attributes(Refuses(), [Attribute.LABEL, Attribute.LOCAL, Attribute.MODULUS])
    assert read == {Attribute.LABEL: "k", Attribute.LOCAL: True}
    evidence = tokens.read_evidence(Refuses())
    assert evidence.local is True and evidence.never_extractable is None
