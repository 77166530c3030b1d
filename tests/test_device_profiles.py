"""Device profiles in key generation: what the token is decides how keys are made."""

from __future__ import annotations

import dataclasses

import pytest

from ceremony import devices
from ceremony.errors import KeyNotAllowed, WrongPin
from ceremony.session import Ceremony
from tests.conftest import USER_PIN


@pytest.fixture
def session(workspace):
    (workspace / "ceremony.toml").write_text('[repository]\nname = "ws"\n')
    return Ceremony(workspace, operator="Olivia Operator", allow_network=True)


def test_a_key_type_the_device_cannot_make_is_refused_before_any_pin(
    session, make_token, monkeypatch
):
    only_p256 = dataclasses.replace(devices.SOFTHSM, key_types=("ecdsa-p256",))
    monkeypatch.setattr(devices, "profile_for", lambda *_a: only_p256)
    label = make_token("limited")
    asked = []
    with pytest.raises(KeyNotAllowed, match="cannot make ed25519"):
        session.generate_key(label, "ed25519", "k", "Alice", lambda p: asked.append(p) or USER_PIN)
    assert asked == []


def test_piv_like_devices_are_asked_for_the_officer_secret_not_the_pin(
    session, make_token, monkeypatch
):
    piv = dataclasses.replace(
        devices.SOFTHSM,
        name="piv-test",
        generation_login="so",
        so_secret="management key",
        default_key_id=devices.PIV_SIGNING_ID,
    )
    monkeypatch.setattr(devices, "profile_for", lambda *_a: piv)
    label = make_token("piv")
    asked: list[str] = []
    with pytest.raises(WrongPin, match="management key"):
        session.generate_key(label, "ecdsa-p256", "k", "Alice", lambda p: asked.append(p) or "bad")
    assert asked and "management key" in asked[0]
