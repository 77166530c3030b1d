"""PKCS#11 tokens through python-pkcs11: modules, slots, login, keys.

Nothing here knows about TUF. The layer exists so that every question a
key holder can ask of a token ("is it the right one? how many PIN tries are
left? was this key born here and can it leave?") has an answer read from the
token itself, and every PKCS#11 failure becomes an error of our own that
says what to do (a token pulled out, a session the module forgot, a locked
PIN, a device error), not a return code or a traceback.

Front ends see values (:class:`TokenInfo`, :class:`KeyInfo`); the
python-pkcs11 objects stay inside the core. A :class:`TokenPool`, owned by
one ceremony, keeps one logged-in session per token until it logs out.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as pk_exc
from pkcs11.util.ec import encode_named_curve_parameters

from ceremony import errors
from ceremony.errors import (
    DeviceError,
    FinalPinTry,
    KeyError_,
    ModuleError,
    PinError,
    PinLocked,
    SessionLost,
    TokenError,
    TokenMissing,
    TokenRemoved,
    WrongPin,
)
from ceremony.text import visible

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Library


# Data objects carrying the key holder's name sit beside the key, tagged so
# other applications' data objects are left alone.
OWNER_APPLICATION = "tuf-ceremony"

PinSource = Callable[[str], str]
"""Called with a prompt at the moment of login (perhaps from a worker
thread); returns the PIN. Never stored by this module."""


@dataclass(frozen=True)
class KeySpec:
    """How one of our key type names maps onto PKCS#11."""

    name: str
    key_type: KeyType
    gen_mechanism: Mechanism
    sign_mechanism: Mechanism
    curve: str | None = None
    bits: int | None = None


KEY_SPECS: dict[str, KeySpec] = {
    "ecdsa-p256": KeySpec(
        "ecdsa-p256", KeyType.EC, Mechanism.EC_KEY_PAIR_GEN, Mechanism.ECDSA, curve="secp256r1"
    ),
    "ecdsa-p384": KeySpec(
        "ecdsa-p384", KeyType.EC, Mechanism.EC_KEY_PAIR_GEN, Mechanism.ECDSA, curve="secp384r1"
    ),
    "ed25519": KeySpec(
        "ed25519",
        KeyType.EC_EDWARDS,
        Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
        Mechanism.EDDSA,
        curve="1.3.101.112",
    ),
    "rsa-3072": KeySpec(
        "rsa-3072",
        KeyType.RSA,
        Mechanism.RSA_PKCS_KEY_PAIR_GEN,
        Mechanism.SHA256_RSA_PKCS_PSS,
        bits=3072,
    ),
    "rsa-4096": KeySpec(
        "rsa-4096",
        KeyType.RSA,
        Mechanism.RSA_PKCS_KEY_PAIR_GEN,
        Mechanism.SHA256_RSA_PKCS_PSS,
        bits=4096,
    ),
}
DEFAULT_KEY_TYPE = "ecdsa-p256"

# --------------------------------------------------------------------------
# PKCS#11 failures in words

_REMOVED = (
    pk_exc.DeviceRemoved,
    pk_exc.TokenNotPresent,
    pk_exc.TokenNotRecognised,
    pk_exc.SlotIDInvalid,
)
_SESSION = (
    pk_exc.SessionHandleInvalid,
    pk_exc.SessionClosed,
    pk_exc.UserNotLoggedIn,
    pk_exc.ObjectHandleInvalid,
    pk_exc.KeyHandleInvalid,
)


def translate(error: Exception, label: str, doing: str) -> errors.CeremonyError:
    """Our own error, in words, for a python-pkcs11 exception."""
    name = visible(label) or "?"
    kind = type(error).__name__
    if isinstance(error, _REMOVED):
        return TokenRemoved(
            f"token {name!r} was removed (or lost power) while {doing}",
            "insert it again and repeat this step; the step did not happen",
        )
    if isinstance(error, _SESSION):
        return SessionLost(
            f"the module lost the session with token {name!r} while {doing} ({kind})",
            "remove and insert the token, then repeat this step; the step did not happen",
        )
    if isinstance(error, pk_exc.PinLocked):
        return PinLocked(
            f"the PIN of token {name!r} is locked",
            "the security officer must unblock it (SO PIN); do not try again",
        )
    if isinstance(error, pk_exc.PinIncorrect | pk_exc.PinInvalid | pk_exc.PinLenRange):
        return WrongPin(
            f"token {name!r} refused the PIN while {doing}",
            "check the PIN with its holder; nothing was retried",
        )
    if isinstance(error, pk_exc.MechanismInvalid | pk_exc.FunctionNotSupported):
        return TokenError(
            f"token {name!r} cannot do this ({kind}) while {doing}",
            "choose another key type or another token",
        )
    if isinstance(error, pk_exc.GeneralError):
        return DeviceError(
            f"token {name!r} reported a general error while {doing}: it may have been removed",
            "check that the token is inserted, then repeat this step; the step did not happen",
        )
    return DeviceError(
        f"token {name!r} failed while {doing} ({kind})",
        "remove and insert the token, then repeat this step; if it fails again, "
        "use another token",
    )


@contextmanager
def guarded(label: str, doing: str) -> Iterator[None]:
    """Turn any python-pkcs11 failure inside the block into our own error."""
    try:
        yield
    except pk_exc.PKCS11Error as error:
        raise translate(error, label, doing) from None


# --------------------------------------------------------------------------
# Modules


_LOADED: dict[str, Library] = {}
_LOAD_LOCK = threading.Lock()


def load_module(path: Path) -> Library:
    """Load (once per process: a module is initialised once) the PKCS#11 module."""
    key = str(Path(path).resolve())
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        if not Path(path).is_file():
            raise ModuleError(
                f"PKCS#11 module {path} does not exist",
                "check the path given by --module, CEREMONY_PKCS11_MODULE or ceremony.toml",
            )
        try:
            lib = pkcs11.lib(str(path))
        except (pk_exc.PKCS11Error, RuntimeError, OSError) as error:
            raise _load_failure(Path(path), error) from None
        _LOADED[key] = lib
        return lib


def _load_failure(path: Path, error: Exception) -> ModuleError:
    """Why a module did not load, naming SoftHSM's own configuration when it is to blame."""
    conf = os.environ.get("SOFTHSM2_CONF")
    if "softhsm" in path.name.lower():
        problem = _softhsm_conf_problem(conf)
        if problem:
            return ModuleError(
                f"SoftHSM2 could not start: {problem}",
                "fix SOFTHSM2_CONF (or unset it to use /etc/softhsm/softhsm2.conf); "
                "the module itself is fine",
            )
    return ModuleError(
        f"PKCS#11 module {path} failed to load: {error or type(error).__name__}",
        "give the path of a PKCS#11 module (.so) built for this machine",
    )


def _softhsm_conf_problem(conf: str | None) -> str | None:
    path = Path(conf or "/etc/softhsm/softhsm2.conf")
    where = f"SOFTHSM2_CONF={conf}" if conf else str(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"its configuration file ({where}) cannot be read: {error.strerror}"
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == "directories.tokendir":
            tokendir = Path(value.strip())
            if not tokendir.is_dir():
                return f"the token directory {tokendir} named in {where} does not exist"
            if not os.access(tokendir, os.R_OK | os.W_OK | os.X_OK):
                return f"the token directory {tokendir} named in {where} is not writable"
            return None
    return f"{where} names no directories.tokendir"


def module_details(lib: Library) -> dict[str, str]:
    """What the module says it is, for the record."""
    major, minor = lib.library_version
    return {
        "manufacturer": lib.manufacturer_id.strip(),
        "description": lib.library_description.strip(),
        "library_version": f"{major}.{minor}",
    }


# --------------------------------------------------------------------------
# Slots and tokens


@dataclass(frozen=True)
class TokenInfo:
    """What a slot and its token report, in the terms a key holder needs."""

    slot_id: int
    slot_description: str
    present: bool
    label: str = ""
    serial: str = ""
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    initialized: bool = False
    login_required: bool = False
    pin_pad: bool = False
    pin_state: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def locked(self) -> bool:
        return "locked" in self.pin_state

    @property
    def final_try(self) -> bool:
        return "final try" in self.pin_state

    def name(self) -> str:
        """How the token is named to people: label and serial."""
        return f"{self.label or '(no label)'} (serial {self.serial or '?'})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "slot": self.slot_id,
            "slot_description": self.slot_description,
            "present": self.present,
            "label": self.label,
            "serial": self.serial,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "firmware": self.firmware,
            "initialized": self.initialized,
            "login_required": self.login_required,
            "pin_pad": self.pin_pad,
            "pin_state": list(self.pin_state),
            **({"problem": self.problem} if self.problem else {}),
        }


def pin_state(flags: TokenFlag) -> tuple[str, ...]:
    """The user PIN's condition, from the token flags, as words."""
    states = []
    if not flags & TokenFlag.TOKEN_INITIALIZED:
        states.append("token not initialised")
    elif not flags & TokenFlag.USER_PIN_INITIALIZED:
        states.append("user PIN not set")
    if flags & TokenFlag.USER_PIN_LOCKED:
        states.append("locked")
    elif flags & TokenFlag.USER_PIN_FINAL_TRY:
        states.append("final try")
    elif flags & TokenFlag.USER_PIN_COUNT_LOW:
        states.append("tries low")
    if flags & TokenFlag.USER_PIN_TO_BE_CHANGED:
        states.append("PIN must be changed")
    return tuple(states) or ("ok",)


def serial_of(token: pkcs11.Token) -> str:
    raw = token.serial
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    return text.strip()


def describe_token(slot: pkcs11.Slot) -> TokenInfo:
    """Read a slot and, when present, its token; a token that cannot be read says so."""
    present = bool(slot.flags & pkcs11.SlotFlag.TOKEN_PRESENT)
    base: dict[str, Any] = {
        "slot_id": slot.slot_id,
        "slot_description": slot.slot_description.strip(),
    }
    if not present:
        return TokenInfo(present=False, **base)
    try:
        token = slot.get_token()
        flags = token.flags
        major, minor = token.firmware_version
        return TokenInfo(
            present=True,
            label=token.label.strip(),
            serial=serial_of(token),
            manufacturer=token.manufacturer_id.strip(),
            model=token.model.strip(),
            firmware=f"{major}.{minor}",
            initialized=bool(flags & TokenFlag.TOKEN_INITIALIZED),
            login_required=bool(flags & TokenFlag.LOGIN_REQUIRED),
            pin_pad=bool(flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH),
            pin_state=pin_state(flags),
            **base,
        )
    except pk_exc.PKCS11Error as error:
        problem = f"cannot be read ({type(error).__name__}): removed, or failing"
        return TokenInfo(present=True, problem=problem, **base)


def info_of(token: pkcs11.Token) -> TokenInfo:
    """The token's description as it is now (flags re-read)."""
    with guarded(token.label.strip(), "reading its state"):
        return describe_token(token.slot)


def list_tokens(lib: Library) -> list[TokenInfo]:
    """Every slot of the module with what its token reports."""
    with guarded("?", "listing the slots"):
        slots = lib.get_slots(token_present=False)
    return [describe_token(slot) for slot in slots]


def _present_tokens(lib: Library) -> list[pkcs11.Token]:
    """Initialised tokens that answer; one that fails to answer is left out."""
    found = []
    with guarded("?", "listing the tokens"):
        slots = lib.get_slots(token_present=True)
    for slot in slots:
        try:
            token = slot.get_token()
            if token.flags & TokenFlag.TOKEN_INITIALIZED:
                found.append(token)
        except pk_exc.PKCS11Error:
            continue
    return found


def find_token(lib: Library, selector: str) -> pkcs11.Token:
    """The one initialised token whose serial (first) or label is ``selector``."""
    tokens = _present_tokens(lib)
    by_serial = [t for t in tokens if serial_of(t) == selector]
    if len(by_serial) == 1:
        return by_serial[0]
    by_label = [t for t in tokens if t.label.strip() == selector]
    if len(by_label) == 1:
        return by_label[0]
    known = (
        ", ".join(f"{visible(t.label.strip())} (serial {visible(serial_of(t))})" for t in tokens)
        or "none"
    )
    if len(by_label) > 1:
        raise TokenError(
            f"{len(by_label)} tokens carry the label {visible(selector)!r}",
            "name the token by its serial instead (see: ceremony token list)",
        )
    raise TokenMissing(
        f"no token with serial or label {visible(selector)!r} is present (tokens present: {known})",
        "insert the token, or check the name with: ceremony token list",
    )


def token_mechanisms(token: pkcs11.Token) -> set[Mechanism]:
    """What the token can do; read from its slot."""
    with guarded(token.label.strip(), "reading its mechanisms"):
        return set(token.slot.get_mechanisms())


def require_mechanisms(token: pkcs11.Token, spec: KeySpec) -> None:
    """Refuse a key type the token cannot generate or sign with, in words."""
    available = token_mechanisms(token)
    missing = [m.name for m in (spec.gen_mechanism, spec.sign_mechanism) if m not in available]
    if missing:
        raise TokenError(
            f"token {visible(token.label.strip())!r} cannot make {spec.name} keys: "
            f"it lacks {', '.join(missing)}",
            f"choose another key type ({', '.join(supported_key_types(token)) or 'none'} "
            "work on this token) or another token",
        )


def supported_key_types(token: pkcs11.Token) -> list[str]:
    available = token_mechanisms(token)
    return [
        name
        for name, spec in KEY_SPECS.items()
        if spec.gen_mechanism in available and spec.sign_mechanism in available
    ]


# --------------------------------------------------------------------------
# Login


def _refresh_flags(token: pkcs11.Token) -> TokenFlag:
    """Token flags as they are now (the Token object caches its info)."""
    with guarded(token.label.strip(), "reading its PIN state"):
        return token.slot.get_token().flags


def _pin_failure(token: pkcs11.Token, error: Exception) -> PinError:
    label = visible(token.label.strip())
    try:
        state = pin_state(_refresh_flags(token))
    except errors.CeremonyError:
        state = ("unknown",)
    if "locked" in state or isinstance(error, pk_exc.PinLocked):
        return PinLocked(
            f"the PIN of token {label!r} is now locked",
            "the security officer must unblock it (SO PIN); do not try again",
        )
    words = ", ".join(state)
    return WrongPin(
        f"wrong PIN for token {label!r}; the token now reports: {words}",
        "check the PIN with its holder and try again; nothing was retried",
    )


def check_pin_allowed(token: pkcs11.Token, final_try: bool) -> None:
    """Refuse to spend the last PIN try, or any try on a locked PIN."""
    flags = _refresh_flags(token)
    label = visible(token.label.strip())
    if flags & TokenFlag.USER_PIN_LOCKED:
        raise PinLocked(
            f"the PIN of token {label!r} is locked",
            "the security officer must unblock it (SO PIN) before it can sign",
        )
    if flags & TokenFlag.USER_PIN_FINAL_TRY and not final_try:
        raise FinalPinTry(
            f"token {label!r} has one PIN try left; a wrong PIN now locks it",
            "make sure of the PIN, then confirm the final try (--final-try)",
        )


@contextmanager
def logged_in(
    token: pkcs11.Token,
    pin_source: PinSource | None,
    *,
    rw: bool = False,
    final_try: bool = False,
    module_path: Path | None = None,
) -> Iterator[pkcs11.Session]:
    """A user session; logs out and closes on the way out, errors included.

    The PIN is fetched only here and handed straight to C_Login; it is not
    kept. A wrong PIN is never retried.
    """
    session = open_user_session(
        token, pin_source, rw=rw, final_try=final_try, module_path=module_path
    )
    try:
        with guarded(token.label.strip(), "working with the logged-in token"):
            yield session
    finally:
        close_session(session)


def open_user_session(
    token: pkcs11.Token,
    pin_source: PinSource | None,
    *,
    rw: bool = False,
    final_try: bool = False,
    module_path: Path | None = None,
) -> pkcs11.Session:
    """Open and log in; the caller owns the session (see close_session)."""
    check_pin_allowed(token, final_try)
    label = token.label.strip()
    if token.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH:
        pin: object = pkcs11.PROTECTED_AUTH
    else:
        if pin_source is None:
            raise PinError(
                f"token {visible(label)!r} needs a PIN and none can be asked for",
                "run interactively, or give --pin-file FILE or CEREMONY_PIN",
            )
        pin = pin_source(f"PIN for token {label} (serial {serial_of(token)})")
    try:
        return token.open(rw=rw, user_pin=pin)
    except pk_exc.UserAlreadyLoggedIn:
        # Login is per token and process in PKCS#11: another session of this
        # process logged in already, and a new session shares that login.
        with guarded(label, "opening a session"):
            return token.open(rw=rw)
    except (pk_exc.PinIncorrect, pk_exc.PinLocked, pk_exc.PinInvalid, pk_exc.PinLenRange) as err:
        _close_failed_login(token, module_path)
        raise _pin_failure(token, err) from None
    except pk_exc.PKCS11Error as error:
        _close_failed_login(token, module_path)
        raise translate(error, label, "logging in") from None
    finally:
        pin = None


def _close_failed_login(token: pkcs11.Token, module_path: Path | None) -> None:
    """python-pkcs11 leaves the session of a failed C_Login open, and an open
    session stops the security officer from logging in later: close this
    process's sessions on that slot (a failed login has none worth keeping).
    Only on the token's own module: a slot number means nothing elsewhere."""
    path = str(Path(module_path).resolve()) if module_path is not None else None
    if path is None and len(_LOADED) == 1:
        path = next(iter(_LOADED))
    if path is None or path not in _LOADED:
        return
    with suppress(OSError, AttributeError):
        module = ctypes.CDLL(path)
        module.C_CloseAllSessions.argtypes = [ctypes.c_ulong]
        module.C_CloseAllSessions.restype = ctypes.c_ulong
        module.C_CloseAllSessions(int(token.slot.slot_id))


@contextmanager
def officer_session(
    token: pkcs11.Token, secret: PinSource, what: str, module_path: Path | None = None
) -> Iterator[pkcs11.Session]:
    """A security officer session (on PIV devices: the management key), for the
    devices that make keys only after that login. Logged out on the way out."""
    label = token.label.strip()
    value = secret(f"{what} for token {label} (serial {serial_of(token)})")
    try:
        session = token.open(rw=True, so_pin=value)
    except (pk_exc.PinIncorrect, pk_exc.PinInvalid, pk_exc.PinLenRange):
        _close_failed_login(token, module_path)
        raise WrongPin(
            f"token {visible(label)!r} refused the {what}",
            f"check the {what} and try again; nothing was retried",
        ) from None
    except pk_exc.PKCS11Error as error:
        _close_failed_login(token, module_path)
        raise translate(error, label, f"logging in with the {what}") from None
    finally:
        value = ""
    try:
        with guarded(label, "working with the token"):
            yield session
    finally:
        close_session(session)


def close_session(session: pkcs11.Session) -> None:
    """Log out and close; python-pkcs11 logs out when the session closes."""
    with suppress(pk_exc.PKCS11Error):
        session.close()


class TokenPool:
    """Logged-in sessions, one per token, owned by one ceremony until it logs out.

    The PIN goes to C_Login once and is dropped; the session is what is
    kept (so a holder signing root and targets types the PIN once), and
    :meth:`logout` or :meth:`close` ends it. Safe to use from a worker
    thread: the app logs in off its event loop.
    """

    def __init__(self, module_path: Path) -> None:
        self.module_path = Path(module_path)
        self._lib: Library | None = None
        self._sessions: dict[str, pkcs11.Session] = {}
        self._lock = threading.RLock()

    @property
    def lib(self) -> Library:
        if self._lib is None:
            self._lib = load_module(self.module_path)
        return self._lib

    def tokens(self) -> list[TokenInfo]:
        """Every slot and what is in it, as it is now."""
        with self._lock:
            self._rescan()
            return list_tokens(self.lib)

    def _rescan(self) -> None:
        """SoftHSM finds tokens added or removed only when re-initialised;
        hardware modules report insertion themselves. Never with a session
        open: re-initialising ends every session."""
        if self._sessions or "softhsm" not in self.lib.manufacturer_id.lower():
            return
        with suppress(pk_exc.PKCS11Error):
            self.lib.reinitialize()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """No rescan (which would end sessions) while the block talks to a token."""
        with self._lock:
            yield

    def find(self, selector: str) -> pkcs11.Token:
        with self._lock:
            return find_token(self.lib, selector)

    def present(self) -> list[pkcs11.Token]:
        """Initialised tokens present now (internal: the core uses these)."""
        with self._lock:
            self._rescan()
            return _present_tokens(self.lib)

    def session(
        self, token: pkcs11.Token, pin_source: PinSource | None, final_try: bool = False
    ) -> pkcs11.Session:
        """The logged-in session of ``token``, logging in once."""
        serial = serial_of(token)
        with self._lock:
            if serial not in self._sessions:
                self._sessions[serial] = open_user_session(
                    token, pin_source, final_try=final_try, module_path=self.module_path
                )
            return self._sessions[serial]

    def logged_in(self, serial: str) -> bool:
        with self._lock:
            return serial in self._sessions

    def logout(self, serial: str) -> None:
        """End the session of one token (a holder is done, or the token was lost)."""
        with self._lock:
            session = self._sessions.pop(serial, None)
        if session is not None:
            close_session(session)

    def close(self) -> None:
        """Log out of every token."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            close_session(session)


# --------------------------------------------------------------------------
# Token initialisation (SoftHSM and other modules that allow it)


class _TokenInfoStruct(ctypes.Structure):
    """CK_TOKEN_INFO, for the PIN length limits python-pkcs11 does not expose."""

    _fields_ = [
        ("label", ctypes.c_char * 32),
        ("manufacturerID", ctypes.c_char * 32),
        ("model", ctypes.c_char * 16),
        ("serialNumber", ctypes.c_char * 16),
        ("flags", ctypes.c_ulong),
        ("ulMaxSessionCount", ctypes.c_ulong),
        ("ulSessionCount", ctypes.c_ulong),
        ("ulMaxRwSessionCount", ctypes.c_ulong),
        ("ulRwSessionCount", ctypes.c_ulong),
        ("ulMaxPinLen", ctypes.c_ulong),
        ("ulMinPinLen", ctypes.c_ulong),
        ("ulTotalPublicMemory", ctypes.c_ulong),
        ("ulFreePublicMemory", ctypes.c_ulong),
        ("ulTotalPrivateMemory", ctypes.c_ulong),
        ("ulFreePrivateMemory", ctypes.c_ulong),
        ("hardwareVersion", ctypes.c_ubyte * 2),
        ("firmwareVersion", ctypes.c_ubyte * 2),
        ("utcTime", ctypes.c_char * 16),
    ]


def _module(module_path: Path) -> ctypes.CDLL:
    """The same module through ctypes (dlopen hands back the loaded library)."""
    module = ctypes.CDLL(str(module_path))
    module.C_Initialize(None)  # already initialised by python-pkcs11: harmless
    return module


def pin_length_limits(module_path: Path, slot_id: int) -> tuple[int, int]:
    """The shortest and longest PIN the token in ``slot_id`` accepts."""
    module = _module(module_path)
    info = _TokenInfoStruct()
    module.C_GetTokenInfo.argtypes = [ctypes.c_ulong, ctypes.POINTER(_TokenInfoStruct)]
    module.C_GetTokenInfo.restype = ctypes.c_ulong
    if module.C_GetTokenInfo(slot_id, ctypes.byref(info)) != 0:
        return (4, 255)
    low, high = int(info.ulMinPinLen), int(info.ulMaxPinLen)
    return (max(low, 1), high if high >= low else 255)


def _c_init_token(module_path: Path, slot_id: int, so_pin: str, label: str) -> None:
    """C_InitToken, which python-pkcs11 does not wrap: called through ctypes."""
    module = _module(module_path)
    module.C_InitToken.argtypes = [
        ctypes.c_ulong,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    ]
    module.C_InitToken.restype = ctypes.c_ulong
    pin = so_pin.encode()
    padded = label.encode("utf-8")[:32].ljust(32, b" ")
    result = module.C_InitToken(slot_id, pin, len(pin), padded)
    if result != 0:
        raise TokenError(
            f"the module refused to initialise slot {slot_id} (CKR 0x{result:08x})",
            "this module may not support initialising tokens; use the vendor's tool",
        )


def objects_on_token(token: pkcs11.Token) -> list[str]:
    """Labels of the objects visible without login (public keys, data)."""
    with guarded(token.label.strip(), "listing its objects"), token.open() as session:
        return [
            f"{obj[Attribute.CLASS].name.lower()} {visible(obj[Attribute.LABEL])!r}"
            for obj in list(session.get_objects())
        ]


def check_new_pins(module_path: Path, slot_id: int, so_pin: str, user_pin: str) -> None:
    """Refuse PINs the token would refuse, before anything on it changes: a
    token whose user PIN is refused after C_InitToken is half initialised."""
    low, high = pin_length_limits(module_path, slot_id)
    for what, pin in (("security officer PIN", so_pin), ("user PIN", user_pin)):
        if not low <= len(pin.encode("utf-8")) <= high:
            raise errors.BadInput(
                f"the new {what} has {len(pin.encode('utf-8'))} bytes; this token accepts "
                f"{low} to {high}",
                f"choose a {what} of {low} to {high} characters",
            )


def init_token(
    lib: Library,
    module_path: Path,
    *,
    label: str,
    so_pin: str,
    user_pin: str,
    selector: str | None = None,
    erase: bool = False,
) -> str:
    """Initialise a token (a free slot, or ``selector`` with ``erase``).

    Returns the new token's serial. A token that holds objects is only
    erased when asked, and the error names what would be lost.
    """
    if not label or len(label.encode()) > 32:
        raise TokenError(
            f"token label {visible(label)!r} must be 1 to 32 bytes", "choose a shorter label"
        )
    slot_id = _slot_to_initialise(lib, selector, erase)
    check_new_pins(module_path, slot_id, so_pin, user_pin)
    _c_init_token(module_path, slot_id, so_pin, label)
    token = _token_by_label_fresh(lib, label)
    with guarded(label, "setting the user PIN"), token.open(rw=True, so_pin=so_pin) as session:
        session.init_pin(user_pin)
    return serial_of(token)


def init_token_preflight(lib: Library, selector: str) -> None:
    """Refuse early (before PINs are typed) to erase a token holding objects."""
    _slot_to_initialise(lib, selector, erase=False)


def _slot_to_initialise(lib: Library, selector: str | None, erase: bool) -> int:
    if selector is None:
        with guarded("?", "looking for a blank token"):
            for slot in lib.get_slots(token_present=True):
                if not slot.get_token().flags & TokenFlag.TOKEN_INITIALIZED:
                    return int(slot.slot_id)
        raise TokenMissing(
            "no uninitialised token is present",
            "insert a blank token, or name one to erase with --token and --erase",
        )
    token = find_token(lib, selector)
    held = objects_on_token(token)
    if held and not erase:
        raise TokenError(
            f"token {visible(token.label.strip())!r} holds {len(held)} objects: "
            f"{', '.join(held)}; initialising it destroys them and any private keys",
            "if these keys are no longer needed, run again with --erase",
        )
    return int(token.slot.slot_id)


def _token_by_label_fresh(lib: Library, label: str) -> pkcs11.Token:
    matches = [t for t in _present_tokens(lib) if t.label.strip() == label]
    if not matches:
        raise TokenError(
            f"token {visible(label)!r} did not appear after initialisation",
            "list the tokens with: ceremony token list, and initialise it again",
        )
    return matches[-1]


# --------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class Evidence:
    """Attributes the token reports about a private key's birth and fate."""

    local: bool | None
    never_extractable: bool | None
    always_sensitive: bool | None
    sensitive: bool | None
    extractable: bool | None

    @property
    def born_on_token(self) -> bool:
        """True only when every attribute proves the key was made here and
        can never leave: an unknown value is not proof."""
        return (
            self.local is True
            and self.never_extractable is True
            and self.always_sensitive is True
            and self.sensitive is True
            and self.extractable is False
        )

    def failures(self) -> list[str]:
        wanted = {
            "LOCAL": (self.local, True),
            "NEVER_EXTRACTABLE": (self.never_extractable, True),
            "ALWAYS_SENSITIVE": (self.always_sensitive, True),
            "SENSITIVE": (self.sensitive, True),
            "EXTRACTABLE": (self.extractable, False),
        }
        return [f"{name}={value}" for name, (value, want) in wanted.items() if value is not want]

    def to_dict(self) -> dict[str, bool | None]:
        return {
            "local": self.local,
            "never_extractable": self.never_extractable,
            "always_sensitive": self.always_sensitive,
            "sensitive": self.sensitive,
            "extractable": self.extractable,
        }


def require_born_on_token(key: TokenKey, allow_exportable: bool) -> None:
    """Refuse, as a TUF key, a private key the token does not prove it made
    and keeps: unless the operator knowingly overrides (and it is recorded)."""
    if key.evidence.born_on_token or allow_exportable:
        return
    raise KeyError_(
        f"key {visible(key.label)!r} may exist outside its token "
        f"({', '.join(key.evidence.failures())}); it is not fit to be a TUF signing key",
        "generate a new key on the token with: ceremony key generate; or, knowingly, "
        "pass --allow-exportable (recorded)",
    )


def _attribute(obj: pkcs11.Object, attribute: Attribute) -> Any:
    try:
        return obj[attribute]
    except (pk_exc.AttributeTypeInvalid, pk_exc.AttributeSensitive, pk_exc.PKCS11Error):
        return None


def _attributes(obj: pkcs11.Object, wanted: list[Attribute]) -> dict[Attribute, Any]:
    """Several attributes in one C_GetAttributeValue (on a smartcard each call
    is a round trip); one at a time if the module refuses the batch. An
    attribute the object does not have is absent from the answer."""
    try:
        return dict(obj.get_attributes(wanted))
    except pk_exc.PKCS11Error:
        values = {attribute: _attribute(obj, attribute) for attribute in wanted}
        return {attribute: value for attribute, value in values.items() if value is not None}


_EVIDENCE = [
    Attribute.LOCAL,
    Attribute.NEVER_EXTRACTABLE,
    Attribute.ALWAYS_SENSITIVE,
    Attribute.SENSITIVE,
    Attribute.EXTRACTABLE,
]


def read_evidence(
    private_key: pkcs11.Object, known: dict[Attribute, Any] | None = None
) -> Evidence:
    """What the token says of where the key was born; ``known`` when already read."""
    values = known if known is not None else _attributes(private_key, _EVIDENCE)
    return Evidence(
        local=values.get(Attribute.LOCAL),
        never_extractable=values.get(Attribute.NEVER_EXTRACTABLE),
        always_sensitive=values.get(Attribute.ALWAYS_SENSITIVE),
        sensitive=values.get(Attribute.SENSITIVE),
        extractable=values.get(Attribute.EXTRACTABLE),
    )


@dataclass
class TokenKey:
    """A key pair found on a token: the objects and what we know of them."""

    label: str
    key_id: bytes
    key_type: KeyType
    private: pkcs11.Object
    public: pkcs11.Object | None
    evidence: Evidence
    owner: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublicKey:
    """A public key object on a token, read without logging in.

    ``crypto`` is the key as pyca/cryptography holds it (None for a type
    this tool cannot use, with ``key_type_name`` saying why).
    """

    label: str
    key_id: bytes
    key_type_name: str
    crypto: Any
    owner: str | None


def crypto_public_key(public: pkcs11.Object, key_type: KeyType) -> Any:
    """The public half of an on-token key as a pyca/cryptography key."""
    from asn1crypto.core import OctetString
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    from pkcs11.util.ec import encode_ec_public_key

    if key_type == KeyType.EC:
        return load_der_public_key(encode_ec_public_key(public))  # type: ignore[arg-type]
    if key_type == KeyType.EC_EDWARDS:
        point = bytes(public[Attribute.EC_POINT])
        raw = point if len(point) == 32 else bytes(OctetString.load(point))
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    if key_type == KeyType.RSA:
        modulus = int.from_bytes(public[Attribute.MODULUS], "big")
        exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    raise KeyError_(
        f"unsupported key type {getattr(key_type, 'name', key_type)}",
        f"use one of: {', '.join(KEY_SPECS)}",
    )


def _read_public(public: pkcs11.Object, owners: dict[bytes, str]) -> PublicKey:
    key_id = bytes(_attribute(public, Attribute.ID) or b"")
    key_type = public[Attribute.KEY_TYPE]
    try:
        name = spec_for_key(public, key_type).name
        crypto = crypto_public_key(public, key_type)
    except (errors.CeremonyError, ValueError, TypeError) as error:
        problem = error.problem if isinstance(error, errors.CeremonyError) else str(error)
        name, crypto = f"unsupported ({problem})", None
    return PublicKey(
        label=_attribute(public, Attribute.LABEL) or "",
        key_id=key_id,
        key_type_name=name,
        crypto=crypto,
        owner=owners.get(key_id),
    )


def spec_for_key(public: pkcs11.Object, key_type: KeyType) -> KeySpec:
    """Which of our key types an on-token key pair is."""
    if key_type == KeyType.RSA:
        bits = int.from_bytes(public[Attribute.MODULUS], "big").bit_length()
        name = f"rsa-{bits}"
        if name in KEY_SPECS:
            return KEY_SPECS[name]
    if key_type == KeyType.EC_EDWARDS:
        return KEY_SPECS["ed25519"]
    if key_type == KeyType.EC:
        params = public[Attribute.EC_PARAMS]
        for spec in KEY_SPECS.values():
            curve = spec.curve
            is_ec = curve is not None and spec.key_type == KeyType.EC
            if is_ec and encode_named_curve_parameters(curve) == params:  # type: ignore[arg-type]
                return spec
    raise KeyError_(
        f"key {visible(public[Attribute.LABEL])!r} is of a type TUF signing here does not support",
        f"use one of: {', '.join(KEY_SPECS)}",
    )


def list_keys(session: pkcs11.Session) -> list[TokenKey]:
    """Private keys on the token with their public halves and owner notes."""
    owners = _read_owner_notes(session)
    objects = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
    keys = [_token_key(session, private, owners) for private in objects]
    return sorted(keys, key=lambda k: k.label)


def _token_key(
    session: pkcs11.Session, private: pkcs11.Object, owners: dict[bytes, str] | None
) -> TokenKey:
    """One private key with its public half; ``owners`` None reads only its own note."""
    values = _attributes(private, [Attribute.ID, Attribute.LABEL, Attribute.KEY_TYPE, *_EVIDENCE])
    key_id = values.get(Attribute.ID) or b""
    label = values.get(Attribute.LABEL) or ""
    if owners is None:
        owners = _read_owner_notes(session, key_id) if key_id else {}
    return TokenKey(
        label=label,
        key_id=key_id,
        key_type=values[Attribute.KEY_TYPE]
        if Attribute.KEY_TYPE in values
        else private[Attribute.KEY_TYPE],
        private=private,
        public=_public_half(session, key_id, label),
        evidence=read_evidence(private, values),
        owner=owners.get(key_id),
    )


def public_keys(token: pkcs11.Token) -> list[PublicKey]:
    """Public key objects visible without a login: how the right token is
    recognised before its holder is asked for a PIN."""
    label = token.label.strip()
    with guarded(label, "reading its public keys"), token.open() as session:
        owners = _read_owner_notes(session)
        objects = list(session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY}))
        found = [_read_public(public, owners) for public in objects]
        return sorted(found, key=lambda k: k.label)


def _public_half(session: pkcs11.Session, key_id: bytes, label: str) -> pkcs11.Object | None:
    template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
    if key_id:
        template[Attribute.ID] = key_id
    else:
        template[Attribute.LABEL] = label
    found = list(session.get_objects(template))
    return found[0] if len(found) == 1 else None


def find_key(
    session: pkcs11.Session, *, label: str | None = None, key_id: bytes | None = None
) -> TokenKey:
    """The one key pair matching the CKA_ID (preferred) or label.

    The token is asked for that key alone first: on a smartcard every object
    and attribute read is a round trip, and a signature needs only its key.
    Anything but exactly one answer is settled over the whole list, which
    also names what is there when nothing matches."""
    if key_id or label:
        template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
        template.update({Attribute.ID: key_id} if key_id else {Attribute.LABEL: label})
        found = list(session.get_objects(template))
        if len(found) == 1:
            return _token_key(session, found[0], None)
    keys = list_keys(session)
    if key_id:
        matches = [k for k in keys if k.key_id == key_id]
    else:
        matches = [k for k in keys if k.label == label]
    if len(matches) == 1:
        return matches[0]
    wanted = f"id {key_id.hex()}" if key_id else f"label {visible(label)!r}"
    token_label = visible(session.token.label.strip())
    if not matches:
        present = ", ".join(visible(k.label) for k in keys) or "none"
        raise KeyError_(
            f"no private key with {wanted} on token {token_label!r} (keys there: {present})",
            "check the key name with: ceremony key list --token ...",
        )
    raise KeyError_(
        f"{len(matches)} keys with {wanted} on token {token_label!r}",
        "name the key by its id, or relabel the duplicates with the vendor's tool",
    )


def _read_owner_notes(session: pkcs11.Session, key_id: bytes | None = None) -> dict[bytes, str]:
    """Owner notes by key id: every one, or only that of ``key_id``."""
    notes: dict[bytes, str] = {}
    template: dict[Attribute, Any] = {
        Attribute.CLASS: ObjectClass.DATA,
        Attribute.APPLICATION: OWNER_APPLICATION,
    }
    if key_id is not None:
        template[Attribute.OBJECT_ID] = key_id
    try:
        objects = list(session.get_objects(template))
        for obj in objects:
            key_id = _attribute(obj, Attribute.OBJECT_ID)
            value = _attribute(obj, Attribute.VALUE)
            if key_id is not None and value is not None:
                notes[bytes(key_id)] = bytes(value).decode("utf-8", "replace")
    except pk_exc.PKCS11Error:
        return notes
    return notes


def _write_owner_note(session: pkcs11.Session, key_id: bytes, label: str, owner: str) -> bool:
    """Keep the holder's name on the token beside the key, where allowed.

    CKA_OBJECT_ID of a data object holds the key's CKA_ID (raw bytes here,
    not a DER OID, which is fine for our own application tag). Tokens that
    refuse data objects (PIV cards) keep the owner only in the exported key.
    """
    try:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.MODIFIABLE: False,
                Attribute.LABEL: f"{label} owner",
                Attribute.APPLICATION: OWNER_APPLICATION,
                Attribute.OBJECT_ID: key_id,
                Attribute.VALUE: owner.encode("utf-8"),
            }
        )
    except pk_exc.PKCS11Error:
        return False
    return True


def _new_key_id(session: pkcs11.Session) -> bytes:
    """A 16-byte CKA_ID from the token's RNG, the host's when it has none."""
    try:
        return bytes(session.generate_random(128))
    except pk_exc.PKCS11Error:
        return os.urandom(16)


PRIVATE_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
}
PUBLIC_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: False,
    Attribute.VERIFY: True,
    Attribute.ENCRYPT: False,
    Attribute.WRAP: False,
}


def generate_key(
    session: pkcs11.Session,
    key_type: str,
    label: str,
    owner: str | None = None,
    key_id: bytes | None = None,
) -> TokenKey:
    """Generate a signing key pair on the token; the private key can never
    leave it. Returns the key with the evidence read back from the token.

    If the token fails half way (removed, device error), the objects this
    call may have left are looked for and destroyed, so no orphan key is
    left behind; the error says whether that worked.
    """
    spec = KEY_SPECS.get(key_type)
    if spec is None:
        raise KeyError_(
            f"unknown key type {visible(key_type)!r}", f"choose one of: {', '.join(KEY_SPECS)}"
        )
    token_label = session.token.label.strip()
    require_mechanisms(session.token, spec)
    with guarded(token_label, "checking its keys"):
        if any(k.label == label for k in list_keys(session)):
            raise KeyError_(
                f"a key labelled {visible(label)!r} already exists on token "
                f"{visible(token_label)!r}",
                "choose another label; existing keys are never replaced",
            )
        key_id = key_id or _new_key_id(session)
    try:
        _generate_pair(session, spec, label, key_id)
        if owner:
            _write_owner_note(session, key_id, label, owner)
        return find_key(session, key_id=key_id)
    except pk_exc.PKCS11Error as error:
        raise _generation_failure(session, error, token_label, key_id) from None


def _generation_failure(
    session: pkcs11.Session, error: pk_exc.PKCS11Error, label: str, key_id: bytes
) -> errors.CeremonyError:
    failure = translate(error, label, "generating a key")
    if _destroy_partial(session, key_id):
        note = "; no part of the new key was left on the token"
    else:
        note = (
            f"; the token could not be checked for a left-over part of the new key "
            f"(CKA_ID {key_id.hex()}): look with 'ceremony key list' once it is back"
        )
    return type(failure)(failure.problem + note, failure.fix)


def _destroy_partial(session: pkcs11.Session, key_id: bytes) -> bool:
    """Remove objects a failed generation left; whether the token is now clean."""
    try:
        for obj in list(session.get_objects({Attribute.ID: key_id})):
            obj.destroy()
        return not list(session.get_objects({Attribute.ID: key_id}))
    except pk_exc.PKCS11Error:
        return False


def _generate_pair(session: pkcs11.Session, spec: KeySpec, label: str, key_id: bytes) -> None:
    common: dict[str, Any] = {
        "store": True,
        "label": label,
        "id": key_id,
        "mechanism": spec.gen_mechanism,
        "public_template": dict(PUBLIC_TEMPLATE),
        "private_template": dict(PRIVATE_TEMPLATE),
        "capabilities": pkcs11.MechanismFlag.SIGN | pkcs11.MechanismFlag.VERIFY,
    }
    if spec.key_type == KeyType.RSA:
        session.generate_keypair(KeyType.RSA, spec.bits, **common)
        return
    assert spec.curve is not None, "EC key specs name their curve"
    params = session.create_domain_parameters(
        spec.key_type,
        {Attribute.EC_PARAMS: encode_named_curve_parameters(spec.curve)},
        local=True,
    )
    params.generate_keypair(**common)
