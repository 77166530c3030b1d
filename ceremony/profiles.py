"""Repository profiles: which custom fields go on keys in metadata.

A key as this tool loads it (from a token, a key file, ``keys/``) carries
our two fields: the holder's name (``x-ceremony-owner``) and the token's
``pkcs11:`` URI (``x-ceremony-uri``). What goes into signed metadata depends
on the online side that will publish it:

- ``plain``: both fields, as they are (any TUF server keeps them).
- ``rstuf``: only ``x-rstuf-key-name`` (the holder's name), plus
  ``x-rstuf-online-key-uri`` on the online key. RSTUF's API re-serialises a
  root on update and drops every other field on keys and role entries, which
  would change the signed bytes and break every signature.
- ``tuf-on-ci``: only ``x-tuf-on-ci-keyowner`` and the key file's other
  ``x-tuf-on-ci-`` fields (its online keys' URIs).

The URI never leaves the workspace under ``rstuf`` and ``tuf-on-ci``: it
stays in the ``keys/`` copy, where ``local_key`` finds it again so status
and guided signing still name the token to insert.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, SSlibKey
from tuf.api.metadata import Root

from ceremony.config import PROFILES
from ceremony.errors import BadInput, KeyError_
from ceremony.fsutil import read_bounded
from ceremony.keys import OWNER_FIELD, OWNER_FIELDS, URI_FIELD, load_key_file

PLAIN, RSTUF, TUF_ON_CI = PROFILES
_, RSTUF_NAME_FIELD, TUF_ON_CI_OWNER_FIELD = OWNER_FIELDS
RSTUF_ONLINE_URI_FIELD = "x-rstuf-online-key-uri"
RSTUF_ONLINE_ROLES = ("timestamp", "snapshot", "targets")
RSTUF_URI_SCHEMES = ("fn:", "awskms:", "gcpkms:", "azurekms:", "hv:")
OWNER_FIELD_OF = {PLAIN: OWNER_FIELD, RSTUF: RSTUF_NAME_FIELD, TUF_ON_CI: TUF_ON_CI_OWNER_FIELD}
KEY_FILE_LIMIT = 64 * 1024


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise BadInput(
            f"repository profile {profile!r} is not one of {', '.join(PROFILES)}",
            "plain for any TUF server, rstuf for Repository Service for TUF, "
            "tuf-on-ci for a tuf-on-ci repository",
        )
    return profile


def owner_in(key: Key) -> str | None:
    """The holder's name under whichever profile's field carries it."""
    for name in OWNER_FIELDS:
        value = key.unrecognized_fields.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def for_metadata(key: Key, profile: str, online: bool = False) -> Key:
    """``key`` as it goes into metadata under ``profile``.

    Fields of other tools are dropped under ``rstuf`` and ``tuf-on-ci`` too:
    they would not survive there. ``online`` marks RSTUF's online key, which
    needs ``x-rstuf-online-key-uri`` (``fn:<keyid>``, a file-based key on
    the worker, unless the key file names a KMS).
    """
    check_profile(profile)
    if profile == PLAIN:
        return key
    fields: dict[str, Any] = {}
    if profile == TUF_ON_CI:  # its own fields (online key URIs) are tuf-on-ci's to keep
        fields = {k: v for k, v in key.unrecognized_fields.items() if k.startswith("x-tuf-on-ci-")}
    owner = owner_in(key)
    if owner:
        fields[OWNER_FIELD_OF[profile]] = owner
    if profile == RSTUF and online:
        uri = key.unrecognized_fields.get(RSTUF_ONLINE_URI_FIELD) or f"fn:{key.keyid}"
        if not isinstance(uri, str) or not uri.startswith(RSTUF_URI_SCHEMES):
            raise KeyError_(
                f"the online key {key.keyid[:8]} names {RSTUF_ONLINE_URI_FIELD} {uri!r}, "
                "which RSTUF's workers cannot load",
                f"use a URI starting with one of {', '.join(RSTUF_URI_SCHEMES)}",
            )
        fields[RSTUF_ONLINE_URI_FIELD] = uri
    return SSlibKey(key.keyid, key.keytype, key.scheme, dict(key.keyval), fields)


def for_root_plan(add: list[tuple[str, Key]], profile: str) -> list[tuple[str, Key]]:
    """The (role, key) pairs of a root plan as they go into metadata."""
    return [(role, for_metadata(key, profile, role in RSTUF_ONLINE_ROLES)) for role, key in add]


def check_root(root: Root, profile: str) -> None:
    """Refuse a root the profile's online side cannot run.

    RSTUF signs timestamp, snapshot and top-level targets with one online key
    (it refuses a bootstrap where they differ), and keeps nothing of ours on
    keys or role entries.
    """
    if profile != RSTUF:
        return
    keyids = {tuple(root.roles[role].keyids) for role in RSTUF_ONLINE_ROLES}
    if len(keyids) != 1 or len(next(iter(keyids))) != 1:
        raise BadInput(
            "under the rstuf profile timestamp, snapshot and targets share one online key: "
            + "; ".join(f"{r}: {len(root.roles[r].keyids)} key(s)" for r in RSTUF_ONLINE_ROLES),
            "give the same online key for all three (--key targets=FILE --key snapshot=FILE "
            "--key timestamp=FILE) and a threshold of 1",
        )
    for keyid, key in root.keys.items():
        extra = sorted(set(key.unrecognized_fields) - {RSTUF_NAME_FIELD, RSTUF_ONLINE_URI_FIELD})
        if extra:
            raise BadInput(
                f"key {keyid[:8]} carries {', '.join(extra)}: RSTUF drops it, which breaks "
                "the root's signatures",
                "stage the root again: under the rstuf profile keys carry only the key name",
            )
    for name, role in root.roles.items():
        if role.unrecognized_fields:
            raise BadInput(
                f"root's {name} entry carries {', '.join(sorted(role.unrecognized_fields))}: "
                "RSTUF drops it, which breaks the root's signatures",
                "stage the root again without those fields",
            )


# --------------------------------------------------------------------------
# Back from metadata to the workspace's copy


def local_key(keys_dir: Path, key: Key) -> Key:
    """The workspace's copy of ``key`` (owner and token URI), when kept.

    A key that already names its token (plain profile), or that keys/ does
    not hold, comes back as it is. Only a copy with the same keyid is used:
    ``load_key_file`` recomputes it from the key material.
    """
    if URI_FIELD in key.unrecognized_fields:
        return key
    for path in sorted(Path(keys_dir).glob(f"*-{key.keyid[:12]}.json")):
        try:
            read_bounded(path, KEY_FILE_LIMIT, "key file")
            kept = load_key_file(path)
        except BadInput:
            continue
        if kept.keyid == key.keyid and kept.keyval == key.keyval:
            fields = dict(key.unrecognized_fields)
            for name in (OWNER_FIELD, URI_FIELD):
                if name in kept.unrecognized_fields:
                    fields[name] = kept.unrecognized_fields[name]
            if OWNER_FIELD not in fields and owner_in(key):
                fields[OWNER_FIELD] = owner_in(key)
            return SSlibKey(key.keyid, key.keytype, key.scheme, dict(key.keyval), fields)
    return key


def local_keys(keys_dir: Path, keys: Mapping[str, Key]) -> dict[str, Key]:
    """``local_key`` for every key of a keyid -> key mapping."""
    return {keyid: local_key(keys_dir, key) for keyid, key in keys.items()}
