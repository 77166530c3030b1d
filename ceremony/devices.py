"""Device profiles: what a kind of token needs that PKCS#11 does not say.

Every PKCS#11 module answers the same calls, but tokens differ in what the
calls mean: a YubiKey's PIV applet generates keys only after the PIV
management key is given as the security officer's login, picks the key
slot from CKA_ID, supports Ed25519 and RSA-3072/4096 only from firmware
5.7, and keeps touch and PIN policies the attestation certificate proves;
opencryptoki's software token gives every token the same serial; a
network HSM has partitions, not tokens you carry. The token layer asks
``profile_for(manufacturer, model)`` and follows the answer; docs/tokens.md
has the checklist for each.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

ALL_KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072", "rsa-4096")

# ykcs11 maps CKA_ID 1..25 onto PIV slots (Yubico's ykcs11 documentation).
PIV_SLOTS: dict[int, str] = {1: "9a", 2: "9c", 3: "9d", 4: "9e", 25: "f9"}
PIV_SLOTS.update({5 + n: f"{0x82 + n:02x}" for n in range(20)})
PIV_SLOT_NAMES = {
    "9a": "PIV Authentication",
    "9c": "Digital Signature",
    "9d": "Key Management",
    "9e": "Card Authentication",
    "f9": "Attestation",
}
PIV_SIGNING_ID = 2
"""CKA_ID of slot 9c, Digital Signature: the slot for a TUF signing key."""
YUBICO_DEFAULT_MANAGEMENT_KEY = "010203040506070801020304050607080102030405060708"


@dataclass(frozen=True)
class DeviceProfile:
    """How this tool drives one kind of token."""

    name: str
    title: str
    key_types: tuple[str, ...] = ALL_KEY_TYPES
    """Key types the device can make (the mechanisms list is checked too)."""
    default_key_type: str = "ecdsa-p256"
    generation_login: str = "user"
    """'user' (the PIN) or 'so': ykcs11 needs the management key as SO login."""
    so_secret: str = "SO PIN"
    key_ids: tuple[int, ...] = ()
    """CKA_IDs that select a key slot on the device; empty: any id."""
    default_key_id: int | None = None
    can_init_token: bool = True
    owner_notes: bool = True
    """Whether the device keeps data objects (the holder's name) beside keys."""
    unique_serials: bool = True
    """False where all tokens report one serial: find them by label instead."""
    pin_to_change_after_init: bool = False
    attestation: bool = False
    touch_policy: bool = False
    extractable_evidence: bool = True
    """Whether LOCAL, NEVER_EXTRACTABLE and ALWAYS_SENSITIVE are reported."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def can_make(self, key_type: str) -> bool:
        return key_type in self.key_types

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "title": self.title,
            "key_types": list(self.key_types),
            "default_key_type": self.default_key_type,
            "generation_login": self.generation_login,
            "so_secret": self.so_secret,
            "key_ids": list(self.key_ids),
            "can_init_token": self.can_init_token,
            "owner_notes": self.owner_notes,
            "unique_serials": self.unique_serials,
            "attestation": self.attestation,
            "touch_policy": self.touch_policy,
        }


SOFTHSM = DeviceProfile(
    "softhsm",
    "SoftHSM 2 (rehearsals and tests only: keys are files on this computer)",
    notes=("not for production: a software token's keys can be copied with its files",),
)
YUBIKEY_PIV = DeviceProfile(
    "yubikey-piv",
    "YubiKey PIV through Yubico's ykcs11",
    key_types=("ecdsa-p256", "ecdsa-p384"),
    generation_login="so",
    so_secret="PIV management key (24 bytes, hex)",
    key_ids=tuple(sorted(PIV_SLOTS)),
    default_key_id=PIV_SIGNING_ID,
    can_init_token=False,
    owner_notes=False,
    attestation=True,
    touch_policy=True,
    extractable_evidence=False,
    notes=(
        "the PIV applet reports no CKA_LOCAL or NEVER_EXTRACTABLE: the attestation "
        "certificate (ceremony key attest) is the proof a key was made on the device",
        "PIN and touch policies are set when the key is generated (ykman piv keys generate "
        "--pin-policy --touch-policy) and proven by the attestation",
    ),
)
NITROKEY_OPENSC = DeviceProfile(
    "nitrokey-opensc",
    "Nitrokey (HSM 2, Pro, Start) and other smartcards through OpenSC",
    key_types=("ecdsa-p256", "ecdsa-p384", "rsa-3072", "rsa-4096"),
    can_init_token=False,
    notes=("initialise the card with its own tool (sc-hsm-tool, nitropy), not here",),
)
OPENCRYPTOKI_SW = DeviceProfile(
    "opencryptoki-sw",
    "opencryptoki's software token (tests only)",
    key_types=("rsa-3072", "rsa-4096"),
    default_key_type="rsa-3072",
    unique_serials=False,
    owner_notes=False,
    notes=(
        "refuses CKA_OBJECT_ID on data objects (CKR_TEMPLATE_INCONSISTENT): the holder's "
        "name is kept in the exported key only",
        "every opencryptoki token reports the same serial (123): tokens are told apart by label",
        "Debian 12's build (3.8) has no EC mechanisms in the software token",
    ),
)
NETWORK_HSM = DeviceProfile(
    "network-hsm",
    "Network HSM partition (Thales Luna, Entrust nShield, AWS CloudHSM, ...)",
    can_init_token=False,
    notes=(
        "a partition is initialised and backed up with the vendor's tools; a partition "
        "with key backup or cloning enabled holds keys that can exist outside it",
        "the HSM's own audit log and its attestation (vendor-specific) belong in the record",
    ),
)
GENERIC = DeviceProfile("generic", "PKCS#11 token (no device profile: generic behaviour)")

_MATCHERS: tuple[tuple[tuple[str, ...], DeviceProfile], ...] = (
    (("softhsm",), SOFTHSM),
    (("yubico", "yubikey"), YUBIKEY_PIV),
    (("nitrokey", "smartcard-hsm", "opensc", "openpgp card"), NITROKEY_OPENSC),
    (("ibm soft", "ibm os pkcs"), OPENCRYPTOKI_SW),
    (
        ("safenet", "luna", "nshield", "ncipher", "entrust", "cloudhsm", "cavium", "utimaco"),
        NETWORK_HSM,
    ),
)


def profile_for(manufacturer: str, model: str, firmware: str | None = None) -> DeviceProfile:
    """The device profile for a token, from what its token info reports.

    ``firmware`` ("5.7" or "5.7.1") widens a YubiKey's key types: Ed25519
    and RSA-3072/4096 need firmware 5.7 or later.
    """
    text = f"{manufacturer} {model}".lower()
    for needles, profile in _MATCHERS:
        if any(needle in text for needle in needles):
            if profile is YUBIKEY_PIV and firmware_at_least(firmware, (5, 7)):
                return replace(profile, key_types=ALL_KEY_TYPES)
            return profile
    return GENERIC


def firmware_at_least(firmware: str | None, wanted: tuple[int, int]) -> bool:
    """True when ``firmware`` ("major.minor[.patch]") is ``wanted`` or later."""
    if not firmware:
        return False
    parts = firmware.split(".")
    try:
        numbers = tuple(int(p) for p in parts[:2])
    except ValueError:
        return False
    return numbers >= wanted


def piv_slot(key_id: bytes) -> str | None:
    """The PIV slot a ykcs11 CKA_ID selects ("9c" for b"\\x02"), or None."""
    if len(key_id) != 1:
        return None
    return PIV_SLOTS.get(key_id[0])
