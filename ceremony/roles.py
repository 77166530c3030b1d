"""Building new metadata versions: root init and rotation, delegations, expiry.

Every function returns a new, unsigned ``Metadata`` and never writes: the
caller stages it. Every refusal happens here, before anything is staged, so
a rejected command leaves the workspace as it was. The trust invariants of
the design are checked on the whole result (:func:`check_root`,
:func:`check_targets`): public keys only, of allowed types, each public key
once per role whatever keyid it is filed under, and delegated role names
that are safe file names.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from securesystemslib.signer import Key
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Root,
    SuccinctRoles,
    Targets,
)

from ceremony.errors import BadInput
from ceremony.keys import check_distinct, check_public_key, owner_of
from ceremony.text import visible
from ceremony.workspace import check_role_name

ONLINE_AND_ROOT = ("root", "targets", "snapshot", "timestamp")
MAX_EXPIRY_DAYS = 36500
MAX_HASH_BINS = 16384


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def expiry(days: int, now: datetime | None = None) -> datetime:
    if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_EXPIRY_DAYS:
        raise BadInput(
            f"an expiry of {days} days is not possible",
            f"give a whole number of days from 1 to {MAX_EXPIRY_DAYS}",
        )
    return (now or _now()) + timedelta(days=days)


@dataclass
class RootPlan:
    """What root init or rotate is asked to do, already parsed."""

    add: list[tuple[str, Key]] = field(default_factory=list)
    remove: list[tuple[str, str]] = field(default_factory=list)
    thresholds: dict[str, int] = field(default_factory=dict)
    root_expiry_days: int = 365
    allow_single_root_key: bool = False


def _check_role(role: str) -> None:
    if role not in ONLINE_AND_ROOT:
        raise BadInput(
            f"unknown role {visible(role)!r} in root",
            f"root names keys for: {', '.join(ONLINE_AND_ROOT)}",
        )


def _add_key(root: Root, role: str, key: Key) -> None:
    _check_role(role)
    check_public_key(key)
    if key.keyid in root.roles[role].keyids:
        raise BadInput(
            f"key {key.keyid[:8]} ({visible(owner_of(key))}) is listed twice for {role}",
            "give each key once per role",
        )
    root.add_key(key, role)


def check_root(root: Root) -> None:
    """The trust invariants on a whole root: allowed public keys, each once per role."""
    for keyid, key in root.keys.items():
        check_public_key(key, f"root key {keyid[:8]}")
    for name, role in root.roles.items():
        check_distinct([root.keys[k] for k in role.keyids if k in root.keys], f"root's {name} role")


def check_targets(targets: Targets) -> None:
    """The trust invariants on a targets role's delegations."""
    delegations = targets.delegations
    if delegations is None:
        return
    for keyid, key in delegations.keys.items():
        check_public_key(key, f"delegation key {keyid[:8]}")
    named: dict[str, str] = {}
    for name, role in (delegations.roles or {}).items():
        check_role_name(name, delegated=True)
        folded = name.lower()
        if folded in named:
            raise BadInput(
                f"delegations {visible(named[folded])!r} and {visible(name)!r} differ only in "
                "case: on a USB stick they would be one file",
                "give delegated roles names that differ in more than case",
            )
        named[folded] = name
        keys = [delegations.keys[k] for k in role.keyids if k in delegations.keys]
        check_distinct(keys, f"delegated role {visible(name)}")
    succinct = delegations.succinct_roles
    if succinct is not None:
        check_role_name(succinct.get_role_for_target("x"), delegated=True)
        keys = [delegations.keys[k] for k in succinct.keyids if k in delegations.keys]
        check_distinct(keys, f"hash bins {visible(succinct.name_prefix)}")


def find_key(root_or_keys: Mapping[str, Key], keyids: Iterable[str], selector: str) -> str:
    """A keyid from a unique prefix or the holder's name."""
    candidates = [k for k in keyids if k in root_or_keys]
    by_prefix = [k for k in candidates if k.startswith(selector.lower())]
    by_owner = [k for k in candidates if owner_of(root_or_keys[k]) == selector]
    matches = sorted(set(by_prefix) | set(by_owner))
    if len(matches) == 1:
        return matches[0]
    known = (
        ", ".join(f"{k[:8]} ({visible(owner_of(root_or_keys[k]))})" for k in candidates) or "none"
    )
    if not matches:
        raise BadInput(
            f"no key matches {visible(selector)!r}", f"name one of the keys there: {known}"
        )
    raise BadInput(
        f"{visible(selector)!r} matches {len(matches)} keys",
        f"give a longer keyid prefix; keys: {known}",
    )


def _check_thresholds(root: Root, allow_single_root_key: bool) -> None:
    for role in ONLINE_AND_ROOT:
        entry = root.roles[role]
        if not entry.keyids:
            raise BadInput(f"role {role} has no keys", f"add one with --key {role}=FILE")
        if entry.threshold < 1 or entry.threshold > len(entry.keyids):
            raise BadInput(
                f"threshold {entry.threshold} for {role} is impossible with "
                f"{len(entry.keyids)} keys",
                f"choose a threshold from 1 to {len(entry.keyids)}",
            )
    if root.roles["root"].threshold == 1 and not allow_single_root_key:
        raise BadInput(
            "a root threshold of 1 lets one lost or stolen token sign a new root of trust",
            "use several root keys and a threshold of 2 or more, or pass "
            "--allow-single-root-key if you really mean it",
        )


def _apply(root: Root, plan: RootPlan) -> None:
    for role, selector in plan.remove:
        _check_role(role)
        keyid = find_key(root.keys, root.roles[role].keyids, selector)
        root.revoke_key(keyid, role)
    for role, key in plan.add:
        _add_key(root, role, key)
    for role, threshold in plan.thresholds.items():
        _check_role(role)
        root.roles[role].threshold = threshold
    _check_thresholds(root, plan.allow_single_root_key)
    check_root(root)


def init_root(plan: RootPlan, now: datetime | None = None) -> Metadata[Root]:
    """Root version 1, consistent snapshots on."""
    root = Root(expires=expiry(plan.root_expiry_days, now), consistent_snapshot=True)
    for role in ONLINE_AND_ROOT:
        root.roles[role].threshold = plan.thresholds.get(role, 1)
    if plan.remove:
        raise BadInput(
            "there is nothing to remove from a new root", "leave out the keys to remove"
        )
    _apply(root, plan)
    return Metadata(root)


def rotate_root(current: Root, plan: RootPlan, now: datetime | None = None) -> Metadata[Root]:
    """Root version N+1 from version N, with a fresh expiry."""
    root = Root.from_dict(copy.deepcopy(current.to_dict()))
    root.version = current.version + 1
    root.expires = expiry(plan.root_expiry_days, now)
    _apply(root, plan)
    return Metadata(root)


# --------------------------------------------------------------------------
# Targets roles


def new_targets(expiry_days: int, now: datetime | None = None) -> Metadata[Targets]:
    return Metadata(Targets(version=1, expires=expiry(expiry_days, now)))


def next_version(base: Metadata[Targets], expiry_days: int | None, bump: bool) -> Metadata:
    """A copy to edit: the next version (from published) or the same
    version (re-staging a proposal), signatures dropped."""
    signed = Targets.from_dict(copy.deepcopy(base.signed.to_dict()))
    if bump:
        signed.version += 1
    if expiry_days is not None:
        signed.expires = expiry(expiry_days)
    return Metadata(signed)


@dataclass
class DelegationPlan:
    name: str
    keys: list[Key]
    threshold: int
    paths: list[str] | None = None
    hash_bins: int | None = None
    bin_prefix: str | None = None
    terminating: bool = False


def _bit_length(count: int) -> int:
    if count < 2 or count > MAX_HASH_BINS or count & (count - 1):
        raise BadInput(
            f"--hash-bins {count} is not a power of two from 2 to {MAX_HASH_BINS}",
            f"use 2, 4, 8, ... {MAX_HASH_BINS} bins",
        )
    return count.bit_length() - 1


def _check_delegation(plan: DelegationPlan) -> None:
    name = visible(plan.name)
    check_role_name(plan.name, delegated=True)
    if plan.bin_prefix is not None:
        check_role_name(plan.bin_prefix, delegated=True)
    if (plan.paths is None) == (plan.hash_bins is None):
        raise BadInput(
            f"delegation {name!r} needs either --paths or --hash-bins",
            "give path patterns (--paths 'pkgs/*') or a bin count (--hash-bins 16)",
        )
    if plan.paths is not None and not plan.paths:
        raise BadInput(f"delegation {name!r} has no paths", "give at least one path pattern")
    if not plan.keys:
        raise BadInput(f"delegation {name!r} has no keys", "give --key FILE")
    keyids = [k.keyid for k in plan.keys]
    if len(set(keyids)) != len(keyids):
        raise BadInput(f"the same key is given twice for {name!r}", "give each key once")
    for key in plan.keys:
        check_public_key(key)
    check_distinct(plan.keys, f"delegation {name}")
    if plan.threshold < 1 or plan.threshold > len(plan.keys):
        raise BadInput(
            f"threshold {plan.threshold} is impossible with {len(plan.keys)} keys",
            f"choose a threshold from 1 to {len(plan.keys)}",
        )


def delegate(targets: Targets, plan: DelegationPlan) -> None:
    """Add or replace a delegation in ``targets`` (edited in place)."""
    _check_delegation(plan)
    keyids = [k.keyid for k in plan.keys]
    if plan.hash_bins is not None:
        _delegate_bins(targets, plan, keyids)
    else:
        _delegate_paths(targets, plan, keyids)
    assert targets.delegations is not None
    for key in plan.keys:
        targets.delegations.keys[key.keyid] = key
    _drop_unused_keys(targets)
    check_targets(targets)


def _delegate_paths(targets: Targets, plan: DelegationPlan, keyids: list[str]) -> None:
    if targets.delegations is not None and targets.delegations.succinct_roles is not None:
        raise BadInput(
            "this role delegates to hash bins; TUF allows either bins or named roles",
            "delegate named roles from another role (--from), or revoke the bins first",
        )
    if targets.delegations is None:
        targets.delegations = Delegations(keys={}, roles={})
    assert targets.delegations.roles is not None
    targets.delegations.roles[plan.name] = DelegatedRole(
        plan.name, keyids, plan.threshold, plan.terminating, paths=list(plan.paths or [])
    )


def _delegate_bins(targets: Targets, plan: DelegationPlan, keyids: list[str]) -> None:
    existing = targets.delegations
    if existing is not None and existing.roles:
        raise BadInput(
            "this role already delegates to named roles; TUF allows either bins or named roles",
            "delegate the bins from their own role (--from NAME), or revoke the others first",
        )
    assert plan.hash_bins is not None
    succinct = SuccinctRoles(
        keyids, plan.threshold, _bit_length(plan.hash_bins), plan.bin_prefix or plan.name
    )
    keys = existing.keys if existing is not None else {}
    targets.delegations = Delegations(keys=keys, succinct_roles=succinct)


def revoke(targets: Targets, name: str) -> None:
    """Remove a named delegation or the hash bins with that prefix."""
    delegations = targets.delegations
    names = _delegation_names(targets)
    if not names:
        raise BadInput(
            f"no delegation named {visible(name)!r}: this role delegates nothing",
            "check the role with: ceremony review, or revoke from another role (--from)",
        )
    assert delegations is not None
    if delegations.roles is not None and name in delegations.roles:
        del delegations.roles[name]
        if not delegations.roles:
            targets.delegations = None
    elif delegations.succinct_roles is not None and delegations.succinct_roles.name_prefix == name:
        targets.delegations = None
    else:
        raise BadInput(
            f"no delegation named {visible(name)!r}",
            f"name one of the delegations here: {', '.join(visible(n) for n in names)}",
        )
    _drop_unused_keys(targets)


def _delegation_names(targets: Targets) -> list[str]:
    delegations = targets.delegations
    if delegations is None:
        return []
    if delegations.succinct_roles is not None:
        return [delegations.succinct_roles.name_prefix]
    return list(delegations.roles or [])


def _drop_unused_keys(targets: Targets) -> None:
    delegations = targets.delegations
    if delegations is None:
        return
    used: set[str] = set()
    for role in (delegations.roles or {}).values():
        used.update(role.keyids)
    if delegations.succinct_roles is not None:
        used.update(delegations.succinct_roles.keyids)
    for keyid in list(delegations.keys):
        if keyid not in used:
            del delegations.keys[keyid]


def delegator_of(candidates: Mapping[str, Targets], role: str) -> str | None:
    """Which targets role delegates ``role`` (named or as a hash bin)."""
    for name, targets in candidates.items():
        delegations = targets.delegations
        if delegations is None:
            continue
        if delegations.roles is not None and role in delegations.roles:
            return name
        succinct = delegations.succinct_roles
        if succinct is not None and succinct.is_delegated_role(role):
            return name
    return None
