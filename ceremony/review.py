"""What a key holder is about to sign, in words, and its hash for witnesses.

A holder signs bytes, not intentions: review compares the staged proposal
with what is published now and says every change in plain words (keys by
their owners' names, thresholds, delegations, expiry), then shows the
SHA-256 of the exact bytes the token will sign, as hex and as PGP words,
so witnesses can read it aloud and compare it with the sign screen.
Anything review does not know how to describe is still named ("other
fields changed"), so no change can pass unseen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from securesystemslib.signer import Key
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Root,
    SuccinctRoles,
    Targets,
)

from ceremony.audit import REVIEW_SHOWN
from ceremony.keys import owner_of
from ceremony.metafile import payload_bytes
from ceremony.words import short_words, to_words

FIRST_FEW = 5
WORDS_PER_GROUP = 4
ROOT_FIELDS = {
    "_type",
    "spec_version",
    "version",
    "expires",
    "keys",
    "roles",
    "consistent_snapshot",
}
TARGETS_FIELDS = {"_type", "spec_version", "version", "expires", "targets", "delegations"}


@dataclass
class Review:
    """One staged role described against its published version."""

    role: str
    version: int
    base_version: int | None
    payload_sha256: str
    raw: str
    changes: list[str] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return to_words(self.payload_sha256)

    @property
    def fingerprint(self) -> str:
        return short_words(self.payload_sha256)

    def lines(self) -> list[str]:
        """The review as printed: summary, changes, then the hash to compare."""
        if self.base_version is None:
            head = f"Review of {self.role} version {self.version} (new: nothing published yet)"
        else:
            head = (
                f"Review of {self.role} version {self.version} "
                f"(published now: version {self.base_version})"
            )
        return [head, "", *self.changes, "", *self.hash_lines()]

    def hash_lines(self) -> list[str]:
        """The payload hash as hex and words, in groups a witness can read aloud."""
        digest = self.payload_sha256
        hex_groups = " ".join(digest[i : i + 8] for i in range(0, len(digest), 8))
        lines = [
            "What will be signed (SHA-256 of the exact bytes):",
            f"  {hex_groups}",
            "Read aloud, in groups of four words:",
        ]
        words = self.words
        for start in range(0, len(words), WORDS_PER_GROUP):
            group = " ".join(words[start : start + WORDS_PER_GROUP])
            lines.append(f"  {start + 1:2d}-{start + WORDS_PER_GROUP:<2d}  {group}")
        lines.append(f"Short fingerprint: {self.fingerprint}")
        return lines


def review(workspace: Any, role: str, now: datetime | None = None) -> Review:
    """Describe the staged role, mark that payload reviewed, and record it.

    The reviewed mark is what lets ``sign`` refuse a payload nobody saw;
    it is written only after the description was built, so a file that
    cannot be read leaves the workspace untouched.
    """
    staged = workspace.staged(role)
    published = _published_base(workspace, role)
    payload = payload_bytes(staged)
    digest = hashlib.sha256(payload).hexdigest()
    moment = now or datetime.now(UTC)
    changes = describe(staged, published, moment)
    base = published.signed.version if published is not None else None
    result = Review(role, staged.signed.version, base, digest, payload.decode("utf-8"), changes)
    workspace.mark_reviewed(role, digest)
    workspace.record(REVIEW_SHOWN, role=role, version=staged.signed.version, payload_sha256=digest)
    return result


def _published_base(workspace: Any, role: str) -> Metadata | None:
    """The published version a proposal replaces: newest root, or ROLE.json."""
    if role == "root":
        return workspace.published("root")
    return workspace.published(role)


def describe(new: Metadata, old: Metadata | None, now: datetime) -> list[str]:
    """Every change from ``old`` to ``new`` as lines of text."""
    lines = _version_lines(new, old, now)
    if isinstance(new.signed, Root):
        old_root = old.signed if old is not None else None
        lines += _root_lines(new.signed, old_root)
    elif isinstance(new.signed, Targets):
        old_targets = old.signed if old is not None else None
        lines += _targets_lines(new.signed, old_targets)
    lines += _other_field_lines(new, old)
    return lines


# ------------------------------------------------------------------ common


def _days(expires: datetime, now: datetime) -> str:
    days = round((expires - now).total_seconds() / 86400)
    if expires <= now:
        return f"EXPIRED {-days} days ago"
    return f"in {days} days"


def _when(expires: datetime, now: datetime) -> str:
    return f"{expires.strftime('%Y-%m-%d %H:%M UTC')} ({_days(expires, now)})"


def _version_lines(new: Metadata, old: Metadata | None, now: datetime) -> list[str]:
    signed = new.signed
    if old is None:
        return [f"Version: {signed.version}", f"Expires: {_when(signed.expires, now)}"]
    before = old.signed
    lines = [f"Version: {before.version} -> {signed.version}"]
    if signed.version != before.version + 1:
        lines.append(
            f"  WARNING: the next version after {before.version} should be {before.version + 1}"
        )
    if signed.expires == before.expires:
        lines.append(f"Expires: unchanged, {_when(signed.expires, now)}")
    else:
        lines.append(f"Expires: {_when(before.expires, now)} -> {_when(signed.expires, now)}")
    if signed.spec_version != before.spec_version:
        lines.append(f"Spec version: {before.spec_version} -> {signed.spec_version}")
    return lines


def _other_field_lines(new: Metadata, old: Metadata | None) -> list[str]:
    """Fields this review does not describe, named so they cannot slip by."""
    known = ROOT_FIELDS if isinstance(new.signed, Root) else TARGETS_FIELDS
    after = {k: v for k, v in new.signed.to_dict().items() if k not in known}
    before = {}
    if old is not None:
        before = {k: v for k, v in old.signed.to_dict().items() if k not in known}
    changed = sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))
    if not changed:
        return []
    return [f"Other fields changed (check them with --raw): {', '.join(changed)}"]


def key_label(key: Key) -> str:
    """How a key is named on screen: owner, short keyid, type."""
    return f"{owner_of(key)} ({key.keyid[:8]}, {key.scheme})"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:FIRST_FEW])
    more = len(items) - FIRST_FEW
    return f"{shown}, and {more} more" if more > 0 else shown


def _key_changes(
    label: str,
    old_ids: list[str],
    new_ids: list[str],
    old_keys: dict[str, Key],
    new_keys: dict[str, Key],
) -> list[str]:
    """Keys added and removed for one role, by owner name."""
    lines = []
    for keyid in new_ids:
        if keyid not in old_ids:
            lines.append(f"  {label}: key added:   {key_label(new_keys[keyid])}")
    for keyid in old_ids:
        if keyid not in new_ids:
            lines.append(f"  {label}: key removed: {key_label(old_keys[keyid])}")
    for keyid in new_ids:
        if keyid in old_ids and keyid in old_keys and keyid in new_keys:
            before, after = owner_of(old_keys[keyid]), owner_of(new_keys[keyid])
            if before != after:
                lines.append(f"  {label}: key {keyid[:8]} renamed: {before} -> {after}")
    return lines


def _threshold_change(label: str, old: int, new: int, count: int) -> list[str]:
    if old == new:
        return []
    return [f"  {label}: threshold {old} -> {new} (of {count} keys)"]


# -------------------------------------------------------------------- root


def _root_lines(new: Root, old: Root | None) -> list[str]:
    if old is None:
        return _whole_root(new)
    lines = ["Roles:"]
    unchanged = []
    for name in sorted(new.roles.keys() | old.roles.keys(), key=_role_order):
        change = _root_role_change(name, new, old)
        lines += change
        if not change:
            unchanged.append(name)
    if unchanged:
        lines.append(f"  unchanged keys and thresholds: {', '.join(unchanged)}")
    if new.consistent_snapshot != old.consistent_snapshot:
        lines.append(
            f"Consistent snapshots: {_on_off(old.consistent_snapshot)} -> "
            f"{_on_off(new.consistent_snapshot)}"
        )
    return lines


def _root_role_change(name: str, new: Root, old: Root) -> list[str]:
    if name not in new.roles:
        return [f"  {name}: role removed"]
    if name not in old.roles:
        return [f"  {name}: role added", *_role_keys(new.roles[name].keyids, new.keys)]
    before, after = old.roles[name], new.roles[name]
    lines = _key_changes(name, before.keyids, after.keyids, old.keys, new.keys)
    lines += _threshold_change(name, before.threshold, after.threshold, len(after.keyids))
    if lines:
        lines.append(f"  {name}: now {after.threshold} of {len(after.keyids)} keys")
    return lines


def _whole_root(root: Root) -> list[str]:
    lines = [f"Consistent snapshots: {_on_off(root.consistent_snapshot)}", "Roles:"]
    for name in sorted(root.roles, key=_role_order):
        role = root.roles[name]
        lines.append(f"  {name}: threshold {role.threshold} of {len(role.keyids)} keys")
        lines += _role_keys(role.keyids, root.keys)
    return lines


def _role_keys(keyids: list[str], keys: dict[str, Key]) -> list[str]:
    return [
        f"    {key_label(keys[keyid])}" if keyid in keys else f"    unknown key {keyid[:8]}"
        for keyid in keyids
    ]


def _role_order(name: str) -> tuple[int, str]:
    order = ("root", "targets", "snapshot", "timestamp")
    return (order.index(name) if name in order else len(order), name)


def _on_off(value: bool | None) -> str:
    return "on" if value else "off"


# ----------------------------------------------------------------- targets


def _targets_lines(new: Targets, old: Targets | None) -> list[str]:
    old_delegations = old.delegations if old is not None else None
    lines = _delegation_lines(new.delegations, old_delegations)
    lines += _target_file_lines(new, old)
    return lines


def _delegation_lines(new: Delegations | None, old: Delegations | None) -> list[str]:
    new_keys = new.keys if new is not None else {}
    old_keys = old.keys if old is not None else {}
    new_roles = _delegated(new)
    old_roles = _delegated(old)
    lines = []
    for name, role in new_roles.items():
        if name not in old_roles:
            lines.append(f"  delegation added: {_delegation_summary(name, role)}")
            lines += _role_keys(role.keyids, new_keys)
        elif old_roles[name] != role or _keys_renamed(role, old_keys, new_keys):
            lines += _delegation_change(name, old_roles[name], role, old_keys, new_keys)
    for name, role in old_roles.items():
        if name not in new_roles:
            lines.append(f"  delegation removed: {_delegation_summary(name, role)}")
    if not lines:
        count = len(new_roles)
        return [f"Delegations: unchanged ({count} delegated)" if count else "Delegations: none"]
    return ["Delegations:", *lines]


def _delegated(delegations: Delegations | None) -> dict[str, DelegatedRole | SuccinctRoles]:
    """Delegated roles by name; succinct bins under their name prefix."""
    if delegations is None:
        return {}
    if delegations.succinct_roles is not None:
        succinct = delegations.succinct_roles
        return {f"{succinct.name_prefix}-*": succinct}
    return dict(delegations.roles or {})


def _keys_renamed(role: Any, old_keys: dict[str, Key], new_keys: dict[str, Key]) -> bool:
    return any(
        k in old_keys and k in new_keys and owner_of(old_keys[k]) != owner_of(new_keys[k])
        for k in role.keyids
    )


def _delegation_summary(name: str, role: DelegatedRole | SuccinctRoles) -> str:
    keys = f"threshold {role.threshold} of {len(role.keyids)} keys"
    if isinstance(role, SuccinctRoles):
        return (
            f"{name}: {role.number_of_bins} hash bins (bit length {role.bit_length}), "
            f"names {role.name_prefix}-{'0' * role.suffix_len} .. "
            f"{role.name_prefix}-{role.number_of_bins - 1:x}, {keys}"
        )
    scope = _scope(role)
    terminating = ", terminating" if role.terminating else ""
    return f"{name}: {scope}, {keys}{terminating}"


def _scope(role: DelegatedRole) -> str:
    if role.paths is not None:
        return f"paths {_names(role.paths) or '(none)'}"
    if role.path_hash_prefixes is not None:
        return f"path hash prefixes {_names(role.path_hash_prefixes) or '(none)'}"
    return "no paths"


def _delegation_change(
    name: str,
    old: DelegatedRole | SuccinctRoles,
    new: DelegatedRole | SuccinctRoles,
    old_keys: dict[str, Key],
    new_keys: dict[str, Key],
) -> list[str]:
    label = f"delegation {name}"
    lines = _key_changes(label, old.keyids, new.keyids, old_keys, new_keys)
    lines += _threshold_change(label, old.threshold, new.threshold, len(new.keyids))
    if isinstance(new, SuccinctRoles) and isinstance(old, SuccinctRoles):
        if new.bit_length != old.bit_length:
            lines.append(f"  {label}: bins {old.number_of_bins} -> {new.number_of_bins}")
    elif isinstance(new, DelegatedRole) and isinstance(old, DelegatedRole):
        lines += _list_change(label, "paths", old.paths, new.paths)
        lines += _list_change(
            label, "path hash prefixes", old.path_hash_prefixes, new.path_hash_prefixes
        )
        if old.terminating != new.terminating:
            lines.append(
                f"  {label}: terminating {_on_off(old.terminating)} -> {_on_off(new.terminating)}"
            )
    if old.unrecognized_fields != new.unrecognized_fields:
        lines.append(f"  {label}: other fields changed (check them with --raw)")
    lines.append(f"  {label}: now {_delegation_summary(name, new).split(': ', 1)[1]}")
    return lines


def _list_change(label: str, what: str, old: list[str] | None, new: list[str] | None) -> list[str]:
    before, after = old or [], new or []
    lines = []
    added = [p for p in after if p not in before]
    removed = [p for p in before if p not in after]
    if added:
        lines.append(f"  {label}: {what} added: {_names(added)}")
    if removed:
        lines.append(f"  {label}: {what} removed: {_names(removed)}")
    return lines


def _target_file_lines(new: Targets, old: Targets | None) -> list[str]:
    before = old.targets if old is not None else {}
    after = new.targets
    added = sorted(p for p in after if p not in before)
    removed = sorted(p for p in before if p not in after)
    changed = sorted(p for p in after if p in before and after[p] != before[p])
    if not (added or removed or changed):
        return [f"Target files: unchanged ({len(after)} files)"]
    lines = [f"Target files: {len(before)} -> {len(after)}"]
    for what, names in (("added", added), ("removed", removed), ("changed", changed)):
        if names:
            lines.append(f"  {len(names)} {what}: {_names(names)}")
    return lines
