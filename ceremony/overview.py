"""The repository at a glance, as plain values for screens.

The app shows roles, versions, expiry, thresholds and holders, but never
touches python-tuf: this module reads the workspace and answers in values
(:class:`RoleSummary`, :class:`KeyChoice`), with expiry in words as well as
a warning flag, since colour is never the only signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from securesystemslib.signer import Key
from tuf.api.metadata import Root, Targets

from ceremony.errors import CeremonyError
from ceremony.keys import load_key_file, owner_of
from ceremony.review import ROLE_ORDER
from ceremony.text import visible
from ceremony.workspace import Workspace

WARN_DAYS = 30


@dataclass(frozen=True)
class Expiry:
    """When a role expires, in words and as a warning level."""

    moment: datetime
    days: int

    @property
    def expired(self) -> bool:
        return self.days < 0

    @property
    def soon(self) -> bool:
        return 0 <= self.days <= WARN_DAYS

    def words(self) -> str:
        date = self.moment.strftime("%Y-%m-%d")
        if self.expired:
            return f"{date}, EXPIRED {-self.days} days ago"
        if self.soon:
            return f"{date}, expires SOON: in {self.days} days"
        return f"{date}, in {self.days} days"


def expiry_of(moment: datetime, now: datetime) -> Expiry:
    seconds = (moment - now).total_seconds()
    return Expiry(moment, int(seconds // 86400))


@dataclass(frozen=True)
class Threshold:
    """One role entry: who may sign it and how many must."""

    role: str
    threshold: int
    owners: tuple[str, ...]

    def words(self) -> str:
        names = ", ".join(visible(o) for o in self.owners) or "no keys"
        return f"{visible(self.role)}: {self.threshold} of {len(self.owners)} ({names})"


@dataclass(frozen=True)
class RoleSummary:
    """A published role: its version, expiry and the thresholds it sets."""

    role: str
    version: int
    expiry: Expiry
    delegates: tuple[Threshold, ...] = ()
    problem: str | None = None


def published_roles(ws: Workspace, now: datetime) -> list[RoleSummary]:
    """Root, then targets and the delegated roles published here."""
    names = (["root"] if ws.root_versions() else []) + ws.published_roles()
    order = {name: index for index, name in enumerate(ROLE_ORDER)}
    result = []
    for name in sorted(names, key=lambda n: (order.get(n, len(order)), n)):
        try:
            metadata = ws.published(name)
        except CeremonyError as error:
            result.append(RoleSummary(name, 0, expiry_of(now, now), (), error.problem))
            continue
        if metadata is None:
            continue
        signed = metadata.signed
        result.append(
            RoleSummary(name, signed.version, expiry_of(signed.expires, now), _delegates(signed))
        )
    return result


def _delegates(signed: Root | Targets) -> tuple[Threshold, ...]:
    if isinstance(signed, Root):
        return tuple(
            Threshold(name, role.threshold, _owners(role.keyids, signed.keys))
            for name, role in sorted(
                signed.roles.items(),
                key=lambda item: ROLE_ORDER.index(item[0]) if item[0] in ROLE_ORDER else 9,
            )
        )
    delegations = signed.delegations
    if delegations is None:
        return ()
    if delegations.succinct_roles is not None:
        bins = delegations.succinct_roles
        name = f"{bins.name_prefix}-* ({bins.number_of_bins} hash bins)"
        return (Threshold(name, bins.threshold, _owners(bins.keyids, delegations.keys)),)
    return tuple(
        Threshold(name, role.threshold, _owners(role.keyids, delegations.keys))
        for name, role in (delegations.roles or {}).items()
    )


def _owners(keyids: list[str], keys: dict[str, Key]) -> tuple[str, ...]:
    return tuple(owner_of(keys[k]) if k in keys else f"key {k[:8]}" for k in keyids)


# ------------------------------------------------------------------ keys


@dataclass(frozen=True)
class KeyChoice:
    """A public key a proposal form can offer: where it is and whose it is."""

    path: Path
    keyid: str
    owner: str
    scheme: str
    key: Key = field(compare=False)

    def label(self) -> str:
        return f"{visible(self.owner)} ({self.keyid[:8]}, {visible(self.scheme)})"


def key_choices(directories: list[Path]) -> tuple[list[KeyChoice], list[str]]:
    """Every usable public key file in ``directories``, and why others were left out."""
    found: dict[str, KeyChoice] = {}
    problems: list[str] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix not in (".json", ".pem", ".pub") or not path.is_file():
                continue
            try:
                key = load_key_file(path)
            except CeremonyError as error:
                problems.append(f"{path.name}: {error.problem}")
                continue
            if key.keyid not in found:
                found[key.keyid] = KeyChoice(path, key.keyid, owner_of(key), key.scheme, key)
    return sorted(found.values(), key=lambda c: (c.owner.lower(), c.keyid)), problems
