"""What a key holder is about to sign, as data and in words, with its hash.

A holder signs bytes, not intentions: review compares the staged proposal
with what is published now and lists every change as a typed
:class:`Change` (keys by their owners' names, thresholds old and new,
delegations, expiry), then gives the SHA-256 of the exact bytes the token
will sign, as hex and as PGP words, so witnesses can read it aloud and
compare it with the sign screen. Anything review does not know how to
describe is still named ("other fields changed"), so no change can pass
unseen.

Describing has no side effect; :func:`render` turns changes into the lines
the command line, the app and the printed record all show, with every
string that came from outside made visible (:func:`ceremony.text.visible`).
Confirming that a review was shown is the session's job: it marks the
payload reviewed and records it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from securesystemslib.signer import Key
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Root,
    Signed,
    SuccinctRoles,
    TargetFile,
    Targets,
)

from ceremony.audit import REVIEW_SHOWN
from ceremony.keys import owner_of
from ceremony.metafile import SignedText, payload_bytes, read_file_text, read_signed_text
from ceremony.text import visible
from ceremony.words import short_words, to_words

if TYPE_CHECKING:
    from ceremony.workspace import StagedPayload

FIRST_FEW = 5
WORDS_PER_GROUP = 4
ATTESTATIONS = "x-ceremony-attestations"
ROOT_FIELDS = {
    ATTESTATIONS,
    "_type",
    "spec_version",
    "version",
    "expires",
    "keys",
    "roles",
    "consistent_snapshot",
}
TARGETS_FIELDS = {"_type", "spec_version", "version", "expires", "targets", "delegations"}
ROLE_ORDER = ("root", "targets", "snapshot", "timestamp")

# Sections the rendered review groups changes under.
TOP, ROLES, DELEGATIONS, TARGETS = "top", "roles", "delegations", "targets"
_HEADERS = {ROLES: "Roles:", DELEGATIONS: "Delegations:"}


@dataclass(frozen=True)
class KeyRef:
    """A key as review names it: holder, short keyid, scheme."""

    keyid: str
    owner: str
    scheme: str

    @classmethod
    def of(cls, key: Key) -> KeyRef:
        return cls(key.keyid, owner_of(key), key.scheme)

    def label(self) -> str:
        return f"{visible(self.owner)} ({self.keyid[:8]}, {visible(self.scheme)})"


@dataclass(frozen=True)
class Change:
    """One thing a proposal changes, for any front end to show.

    ``kind`` says what (see :func:`render` for every kind); ``role`` is the
    role entry it concerns (a top-level role in root, a delegated role in
    targets), ``key`` the key added, removed or listed, ``before`` and
    ``after`` the old and new values, ``threshold_before`` and
    ``threshold_after`` with ``key_count`` the threshold as it was and is.
    """

    kind: str
    section: str = TOP
    role: str | None = None
    key: KeyRef | None = None
    before: Any = None
    after: Any = None
    threshold_before: int | None = None
    threshold_after: int | None = None
    key_count: int | None = None
    items: tuple[str, ...] = ()
    warning: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v not in (None, (), False)}


@dataclass
class Review:
    """One staged role described against its published version."""

    role: str
    version: int
    base_version: int | None
    payload_sha256: str
    raw: str
    changes: list[Change] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def words(self) -> list[str]:
        return to_words(self.payload_sha256)

    @property
    def fingerprint(self) -> str:
        return short_words(self.payload_sha256)

    def head(self) -> str:
        role = visible(self.role)
        if self.base_version is None:
            return f"Review of {role} version {self.version} (new: nothing published yet)"
        return (
            f"Review of {role} version {self.version} (published now: version {self.base_version})"
        )

    def change_lines(self) -> list[str]:
        return render(self.changes, self.now)

    def lines(self) -> list[str]:
        """The review as printed: summary, changes, then the hash to compare."""
        return [self.head(), "", *self.change_lines(), "", *self.hash_lines()]

    def hash_lines(self) -> list[str]:
        """The payload hash as hex and words, in groups a witness can read aloud."""
        return hash_lines(self.payload_sha256)


def hash_lines(digest: str) -> list[str]:
    """A SHA-256 as hex and as words, in groups of four a witness reads aloud."""
    hex_groups = " ".join(digest[i : i + 8] for i in range(0, len(digest), 8))
    lines = [
        "What will be signed (SHA-256 of the exact bytes):",
        f"  {hex_groups}",
        "Read aloud, in groups of four words:",
    ]
    words = to_words(digest)
    for start in range(0, len(words), WORDS_PER_GROUP):
        group = " ".join(words[start : start + WORDS_PER_GROUP])
        lines.append(f"  {start + 1:2d}-{start + WORDS_PER_GROUP:<2d}  {group}")
    lines.append(f"Short fingerprint: {short_words(digest)}")
    return lines


def describe_staged(workspace: Any, role: str, now: datetime | None = None) -> Review:
    """The review of a staged role, without writing anything.

    Read from the files' exact bytes where they allow it: target entries
    are compared one by one as the JSON holds them, so a large role is never
    held whole (``metafile.read_signed_text``). Files that reader does not
    take are parsed whole, with the same review or the same error.
    """
    moment = now or datetime.now(UTC)
    staged = workspace.staged_payload(role)
    on_text = _describe_texts(workspace, role, staged)
    if on_text is not None:
        new, old, changes = on_text
        base = old.signed.version if old is not None else None
        # The file holds the canonical payload itself unless it needed escapes.
        raw = new.text if staged.signed_text == staged.payload else staged.payload.decode()
        return Review(role, new.signed.version, base, staged.digest, raw, changes, moment)
    proposal = workspace.staged(role)
    published = workspace.published(role)
    payload = payload_bytes(proposal)
    digest = hashlib.sha256(payload).hexdigest()
    base = published.signed.version if published is not None else None
    return Review(
        role,
        proposal.signed.version,
        base,
        digest,
        payload.decode("utf-8"),
        describe(proposal, published),
        moment,
    )


def _describe_texts(
    workspace: Any, role: str, staged: StagedPayload
) -> tuple[SignedText, SignedText | None, list[Change]] | None:
    """The changes read from the staged payload and the published file as
    they are, or None when either is not a text read_signed_text takes (or
    an entry that changes is not one python-tuf accepts)."""
    kind = "root" if role == "root" else "targets"
    new = read_signed_text(staged.signed_text, str(workspace.staged_path(role)), kind)
    if new is None:
        return None
    data = workspace.published_bytes(role)
    old = None
    if data is not None:
        old = read_file_text(data, "published " + role, kind)
        if old is None:
            return None
    old_entries = old.entries() if old is not None else iter(())
    try:
        changes = _describe(new.signed, old.signed if old else None, new.entries(), old_entries)
    except _UnfitEntry:
        return None
    return new, old, changes


def confirm_review(workspace: Any, review: Review, actor: str | None = None) -> None:
    """The review was shown: from now on exactly that payload may be signed.

    Refused (by the workspace) when the proposal changed since it was
    described, so a holder never signs what they did not see.
    """
    workspace.mark_reviewed(review.role, review.payload_sha256)
    workspace.record(
        REVIEW_SHOWN,
        actor,
        role=review.role,
        version=review.version,
        payload_sha256=review.payload_sha256,
        changes=review.change_lines(),
    )


def describe(new: Metadata, old: Metadata | None) -> list[Change]:
    """Every change from ``old`` to ``new``."""
    old_signed = old.signed if old is not None else None
    return _describe(new.signed, old_signed, _entries(new.signed), _entries(old_signed))


Entries = Iterable[tuple[str, Any]]
"""Target entries as (path, entry), in path order: TargetFiles, or the JSON
objects a file holds (equal exactly when the TargetFiles would be)."""


def _entries(signed: Signed | None) -> Iterator[tuple[str, TargetFile]]:
    if not isinstance(signed, Targets):
        return iter(())
    return iter(sorted(signed.targets.items(), key=lambda item: item[0]))


def _describe(
    new: Signed, old: Signed | None, new_entries: Entries, old_entries: Entries
) -> list[Change]:
    changes = _version_changes(new, old)
    if isinstance(new, Root):
        old_root = old if isinstance(old, Root) else None
        changes += _root_changes(new, old_root)
        changes += _attestation_changes(new, old_root)
    elif isinstance(new, Targets):
        old_targets = old if isinstance(old, Targets) else None
        changes += _targets_changes(new, old_targets, new_entries, old_entries)
    changes += _other_fields(new, old)
    return changes


# ------------------------------------------------------------------ common


def _version_changes(signed: Signed, before: Signed | None) -> list[Change]:
    if before is None:
        return [Change("version", after=signed.version), Change("expires", after=signed.expires)]
    changes = [Change("version", before=before.version, after=signed.version)]
    if signed.version != before.version + 1:
        changes.append(
            Change("version_gap", before=before.version, after=before.version + 1, warning=True)
        )
    changes.append(Change("expires", before=before.expires, after=signed.expires))
    if signed.spec_version != before.spec_version:
        changes.append(
            Change("spec_version", before=before.spec_version, after=signed.spec_version)
        )
    return changes


def _other_fields(new: Signed, old: Signed | None) -> list[Change]:
    """Fields this review does not describe, named so they cannot slip by
    (python-tuf keeps every field it does not know in unrecognized_fields)."""
    known = ROOT_FIELDS if isinstance(new, Root) else TARGETS_FIELDS
    after = {k: v for k, v in new.unrecognized_fields.items() if k not in known}
    before = {}
    if old is not None:
        before = {k: v for k, v in old.unrecognized_fields.items() if k not in known}
    changed = sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))
    if not changed:
        return []
    return [Change("other_fields", items=tuple(changed), warning=True)]


def _key_changes(
    section: str,
    role: str,
    old_ids: list[str],
    new_ids: list[str],
    old_keys: dict[str, Key],
    new_keys: dict[str, Key],
) -> list[Change]:
    """Keys added, removed and renamed for one role, by owner name."""
    changes = []
    for keyid in new_ids:
        if keyid not in old_ids:
            changes.append(Change("key_added", section, role, _ref(keyid, new_keys)))
    for keyid in old_ids:
        if keyid not in new_ids:
            changes.append(Change("key_removed", section, role, _ref(keyid, old_keys)))
    for keyid in new_ids:
        if keyid in old_ids and keyid in old_keys and keyid in new_keys:
            before, after = owner_of(old_keys[keyid]), owner_of(new_keys[keyid])
            if before != after:
                ref = _ref(keyid, new_keys)
                changes.append(Change("key_renamed", section, role, ref, before, after))
    return changes


def _ref(keyid: str, keys: dict[str, Key]) -> KeyRef:
    if keyid in keys:
        return KeyRef.of(keys[keyid])
    return KeyRef(keyid, f"unknown key {keyid[:8]}", "?")


def _listed(section: str, role: str, keyids: list[str], keys: dict[str, Key]) -> list[Change]:
    return [Change("key_listed", section, role, _ref(keyid, keys)) for keyid in keyids]


# -------------------------------------------------------------------- root


def _root_changes(new: Root, old: Root | None) -> list[Change]:
    if old is None:
        return _whole_root(new)
    changes: list[Change] = []
    unchanged = []
    for name in sorted(new.roles.keys() | old.roles.keys(), key=_role_order):
        change = _root_role_change(name, new, old)
        changes += change
        if not change:
            unchanged.append(name)
    if unchanged:
        changes.append(Change("roles_unchanged", ROLES, items=tuple(unchanged)))
    if new.consistent_snapshot != old.consistent_snapshot:
        changes.append(
            Change(
                "consistent_snapshot",
                before=old.consistent_snapshot,
                after=new.consistent_snapshot,
            )
        )
    return changes


def _root_role_change(name: str, new: Root, old: Root) -> list[Change]:
    if name not in new.roles:
        return [Change("role_removed", ROLES, name)]
    after = new.roles[name]
    if name not in old.roles:
        added = Change(
            "role_added",
            ROLES,
            name,
            threshold_after=after.threshold,
            key_count=len(after.keyids),
        )
        return [added, *_listed(ROLES, name, after.keyids, new.keys)]
    before = old.roles[name]
    changes = _key_changes(ROLES, name, before.keyids, after.keyids, old.keys, new.keys)
    if before.threshold != after.threshold:
        changes.append(_threshold(ROLES, name, before.threshold, after.threshold, after.keyids))
    if changes:
        changes.append(
            Change(
                "role_now",
                ROLES,
                name,
                threshold_before=before.threshold,
                threshold_after=after.threshold,
                key_count=len(after.keyids),
            )
        )
    return changes


def _threshold(section: str, role: str, old: int, new: int, keyids: list[str]) -> Change:
    return Change(
        "threshold",
        section,
        role,
        threshold_before=old,
        threshold_after=new,
        key_count=len(keyids),
    )


def _attestation_changes(new: Root, old: Root | None) -> list[Change]:
    """Which keys the root says were attested by their device (kept as data)."""
    after = new.unrecognized_fields.get(ATTESTATIONS)
    before = old.unrecognized_fields.get(ATTESTATIONS) if old is not None else None
    if after == before:
        return []
    if not isinstance(after, dict):
        return [Change("attestations", after=(), warning=after is not None)]
    refs = tuple(
        _ref(keyid, new.keys).label() if keyid in new.keys else f"unknown key {keyid[:8]}"
        for keyid in sorted(after)
    )
    return [Change("attestations", items=refs)]


def _whole_root(root: Root) -> list[Change]:
    changes = [Change("consistent_snapshot", after=root.consistent_snapshot)]
    for name in sorted(root.roles, key=_role_order):
        role = root.roles[name]
        changes.append(
            Change(
                "role_listed",
                ROLES,
                name,
                threshold_after=role.threshold,
                key_count=len(role.keyids),
            )
        )
        changes += _listed(ROLES, name, role.keyids, root.keys)
    return changes


def _role_order(name: str) -> tuple[int, str]:
    return (ROLE_ORDER.index(name) if name in ROLE_ORDER else len(ROLE_ORDER), name)


# ----------------------------------------------------------------- targets


def _targets_changes(
    new: Targets, old: Targets | None, new_entries: Entries, old_entries: Entries
) -> list[Change]:
    old_delegations = old.delegations if old is not None else None
    changes = _delegation_changes(new.delegations, old_delegations)
    changes += _target_file_changes(new_entries, old_entries if old is not None else ())
    return changes


def _delegation_changes(new: Delegations | None, old: Delegations | None) -> list[Change]:
    new_keys = new.keys if new is not None else {}
    old_keys = old.keys if old is not None else {}
    new_roles = _delegated(new)
    old_roles = _delegated(old)
    changes: list[Change] = []
    for name, role in new_roles.items():
        if name not in old_roles:
            changes.append(_delegation(name, "delegation_added", role))
            changes += _listed(DELEGATIONS, name, role.keyids, new_keys)
        elif old_roles[name] != role or _keys_renamed(role, old_keys, new_keys):
            changes += _delegation_change(name, old_roles[name], role, old_keys, new_keys)
    for name, role in old_roles.items():
        if name not in new_roles:
            changes.append(_delegation(name, "delegation_removed", role))
    if not changes:
        return [Change("delegations_unchanged", after=len(new_roles))]
    return changes


def _delegation(name: str, kind: str, role: DelegatedRole | SuccinctRoles) -> Change:
    return Change(
        kind,
        DELEGATIONS,
        name,
        after=_scope(role),
        threshold_after=role.threshold,
        key_count=len(role.keyids),
        items=("terminating",) if isinstance(role, DelegatedRole) and role.terminating else (),
    )


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


def _scope(role: DelegatedRole | SuccinctRoles) -> dict[str, Any]:
    """What a delegated role may sign for, as data."""
    if isinstance(role, SuccinctRoles):
        return {
            "bins": role.number_of_bins,
            "bit_length": role.bit_length,
            "first": f"{role.name_prefix}-{'0' * role.suffix_len}",
            "last": f"{role.name_prefix}-{role.number_of_bins - 1:0{role.suffix_len}x}",
        }
    if role.paths is not None:
        return {"paths": list(role.paths)}
    if role.path_hash_prefixes is not None:
        return {"path_hash_prefixes": list(role.path_hash_prefixes)}
    return {}


def _delegation_change(
    name: str,
    old: DelegatedRole | SuccinctRoles,
    new: DelegatedRole | SuccinctRoles,
    old_keys: dict[str, Key],
    new_keys: dict[str, Key],
) -> list[Change]:
    changes = _key_changes(DELEGATIONS, name, old.keyids, new.keyids, old_keys, new_keys)
    if old.threshold != new.threshold:
        changes.append(_threshold(DELEGATIONS, name, old.threshold, new.threshold, new.keyids))
    if isinstance(new, SuccinctRoles) and isinstance(old, SuccinctRoles):
        if new.bit_length != old.bit_length:
            changes.append(
                Change(
                    "bins", DELEGATIONS, name, before=old.number_of_bins, after=new.number_of_bins
                )
            )
    elif isinstance(new, DelegatedRole) and isinstance(old, DelegatedRole):
        changes += _list_change(name, "paths", old.paths, new.paths)
        changes += _list_change(
            name, "path hash prefixes", old.path_hash_prefixes, new.path_hash_prefixes
        )
        if old.terminating != new.terminating:
            changes.append(
                Change(
                    "terminating", DELEGATIONS, name, before=old.terminating, after=new.terminating
                )
            )
    if old.unrecognized_fields != new.unrecognized_fields:
        changes.append(Change("delegation_other_fields", DELEGATIONS, name, warning=True))
    now = _delegation(name, "delegation_now", new)
    return [*changes, now]


def _list_change(
    name: str, what: str, old: list[str] | None, new: list[str] | None
) -> list[Change]:
    before, after = old or [], new or []
    changes = []
    added = tuple(p for p in after if p not in before)
    removed = tuple(p for p in before if p not in after)
    if added:
        changes.append(Change("scope_added", DELEGATIONS, name, before=what, items=added))
    if removed:
        changes.append(Change("scope_removed", DELEGATIONS, name, before=what, items=removed))
    return changes


class _UnfitEntry(Exception):
    """A target entry that changes and that python-tuf would not read."""


def _target_file_changes(after: Entries, before: Entries) -> list[Change]:
    """Entries added, removed and changed, walking both in path order at once."""
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []
    counts = [0, 0]
    for path, new, old in _paired(after, before, counts):
        if old is _ABSENT:
            added.append(path)
        elif new is _ABSENT:
            removed.append(path)
        elif new != old:
            changed.append(path)
        else:
            continue
        _check_entry(path, new)
        _check_entry(path, old)
    if not (added or removed or changed):
        return [Change("targets_unchanged", TARGETS, after=counts[0])]
    changes = [Change("targets_count", TARGETS, before=counts[1], after=counts[0])]
    for kind, names in (
        ("targets_added", tuple(added)),
        ("targets_removed", tuple(removed)),
        ("targets_changed", tuple(changed)),
    ):
        if names:
            changes.append(Change(kind, TARGETS, items=names))
    return changes


_ABSENT: Any = object()


def _paired(after: Entries, before: Entries, counts: list[int]) -> Iterator[tuple[str, Any, Any]]:
    """(path, new entry, old entry) over both, _ABSENT where a side has none;
    counts[0] and counts[1] become the number of entries on each side."""
    new_items, old_items = iter(after), iter(before)
    new = next(new_items, None)
    old = next(old_items, None)
    while new is not None or old is not None:
        if old is None or (new is not None and new[0] < old[0]):
            assert new is not None
            yield new[0], new[1], _ABSENT
            new, counts[0] = next(new_items, None), counts[0] + 1
        elif new is None or old[0] < new[0]:
            yield old[0], _ABSENT, old[1]
            old, counts[1] = next(old_items, None), counts[1] + 1
        else:
            yield new[0], new[1], old[1]
            new, counts[0] = next(new_items, None), counts[0] + 1
            old, counts[1] = next(old_items, None), counts[1] + 1


def _check_entry(path: str, entry: Any) -> None:
    """An entry read from JSON that changes must be one python-tuf reads
    (an unchanged one equals the other side's, which was checked when staged)."""
    if entry is _ABSENT or isinstance(entry, TargetFile):
        return
    try:
        TargetFile.from_dict(dict(entry), path)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _UnfitEntry(path) from None


# --------------------------------------------------------------- rendering


def _days(expires: datetime, now: datetime) -> str:
    days = round((expires - now).total_seconds() / 86400)
    if expires <= now:
        return f"EXPIRED {-days} days ago"
    return f"in {days} days"


def _when(expires: datetime, now: datetime) -> str:
    return f"{expires.strftime('%Y-%m-%d %H:%M UTC')} ({_days(expires, now)})"


def _names(items: Iterable[str]) -> str:
    listed = [visible(item) for item in items]
    shown = ", ".join(listed[:FIRST_FEW])
    more = len(listed) - FIRST_FEW
    return f"{shown}, and {more} more" if more > 0 else shown


def _on_off(value: bool | None) -> str:
    return "on" if value else "off"


def _scope_text(scope: dict[str, Any]) -> str:
    if "bins" in scope:
        return (
            f"{scope['bins']} hash bins (bit length {scope['bit_length']}), "
            f"names {visible(scope['first'])} .. {visible(scope['last'])}"
        )
    if "paths" in scope:
        return f"paths {_names(scope['paths']) or '(none)'}"
    if "path_hash_prefixes" in scope:
        return f"path hash prefixes {_names(scope['path_hash_prefixes']) or '(none)'}"
    return "no paths"


def _summary(change: Change) -> str:
    keys = f"threshold {change.threshold_after} of {change.key_count} keys"
    terminating = ", terminating" if "terminating" in change.items else ""
    return f"{_scope_text(change.after or {})}, {keys}{terminating}"


def render_change(change: Change, now: datetime) -> str:
    """One change as the line every front end shows."""
    role = visible(change.role or "")
    label = f"delegation {role}" if change.section == DELEGATIONS else role
    key = change.key.label() if change.key is not None else ""
    kind = change.kind
    if kind == "version":
        if change.before is None:
            return f"Version: {change.after}"
        return f"Version: {change.before} -> {change.after}"
    if kind == "version_gap":
        return f"  WARNING: the next version after {change.before} should be {change.after}"
    if kind == "expires":
        if change.before is None:
            return f"Expires: {_when(change.after, now)}"
        if change.before == change.after:
            return f"Expires: unchanged, {_when(change.after, now)}"
        return f"Expires: {_when(change.before, now)} -> {_when(change.after, now)}"
    if kind == "spec_version":
        return f"Spec version: {visible(change.before)} -> {visible(change.after)}"
    if kind == "consistent_snapshot":
        if change.before is None:
            return f"Consistent snapshots: {_on_off(change.after)}"
        return f"Consistent snapshots: {_on_off(change.before)} -> {_on_off(change.after)}"
    if kind == "attestations":
        if not change.items:
            return "Device attestations: none recorded (check them with --raw)"
        return f"Device attestations recorded for: {_names(change.items)}"
    if kind == "other_fields":
        return f"Other fields changed (check them with --raw): {_names(change.items)}"
    if kind == "role_listed":
        return f"  {role}: threshold {change.threshold_after} of {change.key_count} keys"
    if kind == "key_listed":
        return f"    {key}"
    if kind == "key_added":
        return f"  {label}: key added:   {key}"
    if kind == "key_removed":
        return f"  {label}: key removed: {key}"
    if kind == "key_renamed":
        assert change.key is not None
        return (
            f"  {label}: key {change.key.keyid[:8]} renamed: "
            f"{visible(change.before)} -> {visible(change.after)}"
        )
    if kind == "threshold":
        return (
            f"  {label}: threshold {change.threshold_before} -> {change.threshold_after} "
            f"(of {change.key_count} keys)"
        )
    if kind == "role_now":
        return f"  {role}: now {change.threshold_after} of {change.key_count} keys"
    if kind == "role_added":
        return f"  {role}: role added"
    if kind == "role_removed":
        return f"  {role}: role removed"
    if kind == "roles_unchanged":
        return f"  unchanged keys and thresholds: {_names(change.items)}"
    if kind == "delegation_added":
        return f"  delegation added: {role}: {_summary(change)}"
    if kind == "delegation_removed":
        return f"  delegation removed: {role}: {_summary(change)}"
    if kind == "delegation_now":
        return f"  {label}: now {_summary(change)}"
    if kind == "bins":
        return f"  {label}: bins {change.before} -> {change.after}"
    if kind == "scope_added":
        return f"  {label}: {change.before} added: {_names(change.items)}"
    if kind == "scope_removed":
        return f"  {label}: {change.before} removed: {_names(change.items)}"
    if kind == "terminating":
        return f"  {label}: terminating {_on_off(change.before)} -> {_on_off(change.after)}"
    if kind == "delegation_other_fields":
        return f"  {label}: other fields changed (check them with --raw)"
    if kind == "delegations_unchanged":
        count = change.after or 0
        return f"Delegations: unchanged ({count} delegated)" if count else "Delegations: none"
    if kind == "targets_unchanged":
        return f"Target files: unchanged ({change.after} files)"
    if kind == "targets_count":
        return f"Target files: {change.before} -> {change.after}"
    if kind in ("targets_added", "targets_removed", "targets_changed"):
        what = kind.split("_", 1)[1]
        return f"  {len(change.items)} {what}: {_names(change.items)}"
    return f"Other change: {visible(kind)}"


def render(changes: Iterable[Change], now: datetime | None = None) -> list[str]:
    """The changes as lines, with a header where a section begins."""
    moment = now or datetime.now(UTC)
    lines: list[str] = []
    section = TOP
    for change in changes:
        header = _HEADERS.get(change.section)
        if change.section != section and header:
            lines.append(header)
        section = change.section
        lines.append(render_change(change, moment))
    return lines
