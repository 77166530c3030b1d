"""PKCS#11 implementations the token layer's tests run on.

SoftHSM2 (every test) and opencryptoki's software token (the token-layer
modules that set ``PKCS11_BACKENDS``; set up by scripts/opencryptoki.sh).
What differs between them is read from ``ceremony.devices`` (key types,
whether serials tell tokens apart), never written into the tests.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import secrets
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pkcs11
import pytest

from ceremony import devices, modules, tokens
from tests.conftest import SO_PIN, USER_PIN  # SO_PIN is also opencryptoki's factory SO PIN

ALL = ("softhsm", "opencryptoki")
OPENCRYPTOKI_MODULES = (
    "/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so",
    "/usr/lib/aarch64-linux-gnu/pkcs11/libopencryptoki.so",
    "/usr/lib/s390x-linux-gnu/pkcs11/libopencryptoki.so",
)
OPENCRYPTOKI_SLOTS = (10, 11, 12, 13)
_labels = itertools.count(1)
_RUN = secrets.token_hex(3)
"""opencryptoki keeps its tokens between runs: this run's labels differ."""


@dataclass
class Backend:
    name: str
    module_path: Path
    lib: pkcs11.lib
    profile: devices.DeviceProfile
    make_token: Callable[[str], str] = field(repr=False)
    reset: Callable[[], None] = field(repr=False, default=lambda: None)
    """Called as each test starts: no session of an earlier test survives."""

    @property
    def key_type(self) -> str:
        return self.profile.default_key_type


def _profile(lib: pkcs11.lib) -> devices.DeviceProfile:
    slot = lib.get_slots(token_present=True)[0]
    info = tokens.describe_token(slot)
    return devices.profile_for(info.manufacturer, info.model, info.firmware)


def softhsm() -> Backend:
    module = modules.resolve_module_path(None)
    lib = tokens.load_module(module)

    def make(prefix: str = "tok") -> str:
        label = f"{prefix}-{next(_labels)}"
        tokens.init_token(lib, module, label=label, so_pin=SO_PIN, user_pin=USER_PIN)
        return label

    return Backend("softhsm", module, lib, _profile(lib), make)


def _unavailable(reason: str) -> None:
    if os.environ.get("TEST_REQUIRE_OPENCRYPTOKI") == "1":
        pytest.fail(f"opencryptoki is required here (TEST_REQUIRE_OPENCRYPTOKI=1): {reason}")
    pytest.skip(f"opencryptoki not set up: {reason}; run: bash scripts/opencryptoki.sh (as root)")


def opencryptoki() -> Backend:
    module = next((Path(p) for p in OPENCRYPTOKI_MODULES if Path(p).is_file()), None)
    if module is None:
        _unavailable("its PKCS#11 module is not installed")
    assert module is not None
    probe = subprocess.run(["pkcsconf", "-s"], capture_output=True, text=True, check=False)
    if probe.returncode != 0 or f"Slot #{OPENCRYPTOKI_SLOTS[-1]}" not in probe.stdout:
        _unavailable("pkcsslotd is not running with the software-token slots 10-13")
    lib = tokens.load_module(module)
    rotation = itertools.cycle(OPENCRYPTOKI_SLOTS)

    def make(prefix: str = "tok") -> str:
        """opencryptoki has a fixed set of tokens: re-initialise the next one."""
        label = f"{prefix}-{next(_labels)}-{_RUN}"
        slots = [s for s in lib.get_slots(token_present=True) if s.slot_id in OPENCRYPTOKI_SLOTS]
        infos = [tokens.describe_token(s) for s in slots]
        free = [i for i in infos if not i.initialized]  # init_token takes the first of these
        turn = next(rotation)
        info = free[0] if free else next(i for i in infos if i.slot_id == turn)
        selector = None if free else info.label
        tokens.init_token(
            lib,
            module,
            label=label,
            so_pin=SO_PIN,
            user_pin=USER_PIN,
            selector=selector,
            erase=True,
        )
        return label

    def reset() -> None:
        # opencryptoki refuses the SO login of C_InitToken while this process
        # has a read-only session on any of its software tokens.
        for slot_id in OPENCRYPTOKI_SLOTS:
            close_all_sessions(module, slot_id)

    return Backend("opencryptoki", module, lib, _profile(lib), make, reset)


def close_all_sessions(module: Path, slot_id: int) -> None:
    """C_CloseAllSessions, which python-pkcs11 does not wrap (ctypes, same module).

    Sessions an earlier test left on a re-used token (python-pkcs11 0.10
    leaves one open after a failed C_Login: see test_tokens) would make the
    security officer's login for C_InitToken fail.
    """
    library = ctypes.CDLL(str(module))
    library.C_CloseAllSessions.argtypes = [ctypes.c_ulong]
    library.C_CloseAllSessions(slot_id)


def backend(name: str) -> Backend:
    return {"softhsm": softhsm, "opencryptoki": opencryptoki}[name]()
