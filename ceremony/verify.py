"""Checking a whole workspace the way a TUF client would, and saying why.

A client that starts from root version 1 (or from a root it already
trusts) must be able to walk every published root, each one signed by a
threshold of the previous version's root keys and of its own, with no
version missing; then top-level targets signed by the newest root's
targets keys; then each offline delegated role signed by its delegator.
The signature checks are python-tuf's own (``get_root_verification_result``
and ``get_verification_result``): this module only decides what to check,
in which order, and how to say what failed.

Each file is read and parsed once; hash-bin files are looked up in one
directory listing, so 16,384 bins cost 16,384 verifications and no more.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.exceptions import VerificationError
from tuf.api.metadata import Metadata, Root, Targets, VerificationResult

from ceremony.errors import BadInput
from ceremony.keys import owner_of, parse_once
from ceremony.metafile import parse_metadata, payload_bytes

OK, WARN, FAIL = "ok", "warn", "fail"
ONLINE_ROLES = ("snapshot", "timestamp")
NUMBERED_ROOT = re.compile(r"^([0-9]+)\.root\.json$")


@dataclass
class VerifyItem:
    """One check: which role and version, how it went, and why in words."""

    role: str
    version: int | None
    status: str
    reason: str
    bad_input: bool = False


@dataclass
class VerifyReport:
    """Everything checked, in the order a client would check it."""

    items: list[VerifyItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.status != FAIL for item in self.items)

    @property
    def failures(self) -> list[VerifyItem]:
        return [item for item in self.items if item.status == FAIL]

    @property
    def warnings(self) -> list[VerifyItem]:
        return [item for item in self.items if item.status == WARN]

    @property
    def exit_code(self) -> int:
        """2 when a file could not be read as metadata, 1 for a failed check."""
        if any(item.bad_input for item in self.items):
            return 2
        return 0 if self.ok else 1

    def add(self, role: str, version: int | None, status: str, reason: str) -> None:
        self.items.append(VerifyItem(role, version, status, reason))

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "items": [asdict(item) for item in self.items]}


def verify_workspace(
    workspace: Any,
    trusted_root: Path | None = None,
    warn_days: int = 30,
    now: datetime | None = None,
) -> VerifyReport:
    """Verify the root chain, then targets and offline delegated roles.

    A ``trusted_root`` file that cannot be read as root metadata is bad
    input (raised); problems in the workspace's own files are report items.
    """
    if warn_days < 0:
        raise BadInput(f"--warn-days {warn_days} is negative", "give a number of days, e.g. 30")
    verifier = _Verifier(Path(workspace.metadata_dir), warn_days, now or datetime.now(UTC))
    start = _load_trusted_root(trusted_root) if trusted_root is not None else None
    root = verifier.root_chain(start)
    if root is not None:
        verifier.online_roles(root)
        verifier.targets_tree(root)
    verifier.orphans()
    return verifier.report


def _load_trusted_root(path: Path) -> Metadata[Root]:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise BadInput(
            f"cannot read the trusted root {path}: {error.strerror}",
            "give the path of a root.json you already trust",
        ) from None
    return parse_metadata(data, str(path), "root")


def _signers(result: VerificationResult) -> str:
    """Who signed and who did not, by owner name, for a failure message."""
    signed = ", ".join(owner_of(k) for k in result.signed.values()) or "nobody"
    missing = ", ".join(owner_of(k) for k in result.unsigned.values()) or "none"
    return (
        f"{len(result.signed)} of {len(result.signed) + len(result.unsigned)} keys signed "
        f"(needs {result.threshold}); signed: {signed}; no valid signature: {missing}"
    )


class _Verifier:
    """One pass over metadata/: each file read and parsed at most once."""

    def __init__(self, directory: Path, warn_days: int, now: datetime) -> None:
        self.directory = directory
        self.warn = timedelta(days=warn_days)
        self.now = now
        self.report = VerifyReport()
        self.names = _listing(directory)
        self.reached: set[str] = set()

    # ------------------------------------------------------------ reading

    def _load(self, name: str, role: str, kind: str) -> tuple[Metadata, bytes] | None:
        """Parse one file; a file that is not metadata becomes a bad-input item."""
        path = self.directory / name
        try:
            data = path.read_bytes()
            metadata = parse_metadata(data, f"metadata/{name}", kind)
        except OSError as error:
            self.report.add(role, None, FAIL, f"cannot read metadata/{name}: {error.strerror}")
            return None
        except BadInput as error:
            self.report.items.append(VerifyItem(role, None, FAIL, error.problem, True))
            return None
        return metadata, data

    def _expiry(self, role: str, signed: Any, online: bool = False) -> bool:
        """Report expiry; True when the role is still valid."""
        left = signed.expires - self.now
        if left >= self.warn and left > timedelta(0):
            return True
        when = signed.expires.strftime("%Y-%m-%d %H:%M UTC")
        if left <= timedelta(0):
            status = WARN if online else FAIL
            note = " (an online role: the server renews it)" if online else ""
            self.report.add(role, signed.version, status, f"expired on {when}{note}")
            return online
        self.report.add(
            role, signed.version, WARN, f"expires in {left.days} days, on {when}: renew it soon"
        )
        return True

    # --------------------------------------------------------------- root

    def root_chain(self, trusted: Metadata[Root] | None) -> Metadata[Root] | None:
        """Walk the root versions; returns the newest root reached."""
        versions = sorted(
            int(m.group(1)) for n in self.names if (m := NUMBERED_ROOT.match(n)) is not None
        )
        self.reached.add("root")
        if trusted is None:
            current = self._first_root(versions)
        else:
            current = self._trusted_start(trusted, versions)
        if current is None:
            return None
        for version in [v for v in versions if v > current.signed.version]:
            expected = current.signed.version + 1
            if version != expected:
                self.report.add(
                    "root",
                    expected,
                    FAIL,
                    f"root version {expected} is missing (the next published is {version}): "
                    "a client cannot get past the gap; later roots were not checked",
                )
                break
            step = self._root_step(current, version)
            if step is None:
                break
            current = step
        self._expiry("root", current.signed)
        self._root_json_matches(versions)
        return current

    def _first_root(self, versions: list[int]) -> Metadata[Root] | None:
        if not versions:
            self.report.add("root", None, FAIL, "no root has been published (metadata/1.root.json)")
            return None
        if versions[0] != 1:
            self.report.add(
                "root",
                1,
                FAIL,
                f"metadata/1.root.json is missing (the oldest is {versions[0]}.root.json): "
                "give the root you trust with --trusted-root to start from it",
            )
            return None
        loaded = self._load_root(1)
        if loaded is None:
            return None
        metadata, _ = loaded
        result = metadata.signed.get_root_verification_result(
            None, payload_bytes(metadata), metadata.signatures
        )
        self._root_result(1, result, "its own root keys")
        return metadata

    def _trusted_start(self, trusted: Metadata[Root], versions: list[int]) -> Metadata[Root]:
        version = trusted.signed.version
        result = trusted.signed.get_root_verification_result(
            None, payload_bytes(trusted), trusted.signatures
        )
        self._root_result(version, result, "its own root keys (the trusted root)")
        if version in versions:
            loaded = self._load_root(version)
            if loaded is not None and payload_bytes(loaded[0]) != payload_bytes(trusted):
                self.report.add(
                    "root",
                    version,
                    FAIL,
                    f"metadata/{version}.root.json differs from the trusted root you gave",
                )
        elif not any(v > version for v in versions):
            self.report.add(
                "root", version, WARN, "the workspace has no root newer than the trusted one"
            )
        return trusted

    def _load_root(self, version: int) -> tuple[Metadata[Root], bytes] | None:
        loaded = self._load(f"{version}.root.json", "root", "root")
        if loaded is not None and loaded[0].signed.version != version:
            self.report.add(
                "root",
                version,
                FAIL,
                f"metadata/{version}.root.json holds root version {loaded[0].signed.version}",
            )
            return None
        return loaded

    def _root_step(self, previous: Metadata[Root], version: int) -> Metadata[Root] | None:
        loaded = self._load_root(version)
        if loaded is None:
            return None
        metadata = loaded[0]
        try:
            result = metadata.signed.get_root_verification_result(
                previous.signed, payload_bytes(metadata), metadata.signatures
            )
        except (ValueError, VerificationError) as error:
            self.report.add("root", version, FAIL, f"signatures cannot be checked: {error}")
            return metadata
        self._root_result(version, result, f"the root keys of version {version - 1}", True)
        return metadata

    def _root_result(
        self, version: int, result: Any, previous_label: str, chained: bool = False
    ) -> None:
        if result.verified:
            reason = f"signed by a threshold of {previous_label}"
            if chained:
                reason += " and of its own"
            self.report.add("root", version, OK, reason)
            return
        reasons = []
        if not result.first.verified:
            reasons.append(
                f"not signed by a threshold of {previous_label}: {_signers(result.first)}"
            )
        if not result.second.verified:
            reasons.append(
                f"not signed by a threshold of its own root keys: {_signers(result.second)}"
            )
        self.report.add("root", version, FAIL, "; ".join(dict.fromkeys(reasons)))

    def _root_json_matches(self, versions: list[int]) -> None:
        if not versions:
            return
        newest = versions[-1]
        latest = self.directory / "root.json"
        if "root.json" not in self.names:
            self.report.add("root", newest, FAIL, "metadata/root.json is missing")
        elif latest.read_bytes() != (self.directory / f"{newest}.root.json").read_bytes():
            self.report.add(
                "root", newest, FAIL, f"metadata/root.json is not a copy of {newest}.root.json"
            )

    # --------------------------------------------------------- delegations

    def online_roles(self, root: Metadata[Root]) -> None:
        """Snapshot and timestamp, when a copy sits in metadata/: signatures only
        fail; their expiry is the online server's business and only warns."""
        for role in ONLINE_ROLES:
            name = f"{role}.json"
            if name not in self.names:
                continue
            self.reached.add(role)
            loaded = self._load(name, role, role)
            if loaded is not None:
                self._delegated(root.signed, role, loaded[0], online=True)

    def targets_tree(self, root: Metadata[Root]) -> None:
        """Top-level targets by the root, then every delegation below it."""
        if "targets.json" not in self.names:
            self.report.add("targets", None, WARN, "no targets metadata published yet")
            return
        self.reached.add("targets")
        loaded = self._load("targets.json", "targets", "targets")
        if loaded is None:
            return
        metadata = loaded[0]
        self._delegated(root.signed, "targets", metadata)
        self._same_as_numbered("targets", loaded)
        queue: deque[tuple[str, Targets]] = deque([("targets", metadata.signed)])
        while queue:
            name, delegator = queue.popleft()
            queue.extend(self._children(name, delegator))

    def _children(self, parent: str, delegator: Targets) -> list[tuple[str, Targets]]:
        delegations = delegator.delegations
        if delegations is None:
            return []
        if delegations.succinct_roles is not None:
            return self._bins(parent, delegator)
        found = []
        for name in delegations.roles or {}:
            if f"{name}.json" not in self.names:
                self.report.add(name, None, OK, f"delegated by {parent}; not kept offline here")
                continue
            first = name not in self.reached
            self.reached.add(name)
            loaded = self._load(f"{name}.json", name, "targets")
            if loaded is None:
                continue
            if self._delegated(delegator, name, loaded[0], parent=parent) and first:
                self._same_as_numbered(name, loaded)
                found.append((name, loaded[0].signed))
        return found

    def _bins(self, parent: str, delegator: Targets) -> list[tuple[str, Targets]]:
        """Hash bins whose files exist: signature failures one by one, the
        rest counted, and expiry summed up (bins usually expire together)."""
        succinct = delegator.delegations.succinct_roles
        _parse_keys_once(delegator.delegations.keys)
        label = f"{succinct.name_prefix}-*"
        before = len(self.report.items)
        present, verified, expiry = 0, 0, _BinExpiry()
        found = []
        for name in succinct.get_roles():
            if f"{name}.json" not in self.names:
                continue
            present += 1
            self.reached.add(name)
            loaded = self._load(f"{name}.json", name, "targets")
            if loaded is None or not self._delegated(delegator, name, loaded[0], quiet=True):
                continue
            verified += 1
            expiry.add(loaded[0].signed.expires - self.now, self.warn)
            if loaded[0].signed.delegations is not None:
                found.append((name, loaded[0].signed))
        status = OK if verified == present else FAIL
        summary = (
            f"{present} of {succinct.number_of_bins} hash bins kept here, "
            f"{verified} verified by {parent}"
        )
        self.report.items.insert(before, VerifyItem(label, None, status, summary))
        for status, reason in expiry.items(self.now):
            self.report.add(label, None, status, reason)
        return found

    def _delegated(
        self,
        delegator: Root | Targets,
        role: str,
        metadata: Metadata,
        parent: str = "root",
        online: bool = False,
        quiet: bool = False,
    ) -> bool:
        """Check one delegated role's signatures and expiry; True when good."""
        version = metadata.signed.version
        try:
            result = delegator.get_verification_result(
                role, payload_bytes(metadata), metadata.signatures
            )
        except (ValueError, VerificationError) as error:
            self.report.add(role, version, FAIL, f"signatures cannot be checked: {error}")
            return False
        if not result.verified:
            self.report.add(
                role,
                version,
                FAIL,
                f"not signed by {parent}'s threshold for {role}: {_signers(result)}",
            )
            return False
        if quiet:
            return True
        self.report.add(role, version, OK, f"signed by a threshold of {parent}'s keys")
        return self._expiry(role, metadata.signed, online)

    def _same_as_numbered(self, role: str, loaded: tuple[Metadata, bytes]) -> None:
        """ROLE.json must be the copy of its own numbered version, when kept."""
        metadata, data = loaded
        numbered = f"{metadata.signed.version}.{role}.json"
        if numbered in self.names and (self.directory / numbered).read_bytes() != data:
            self.report.add(
                role,
                metadata.signed.version,
                FAIL,
                f"metadata/{role}.json differs from metadata/{numbered}",
            )

    def orphans(self) -> None:
        """Files nobody delegates to were not checked: say so."""
        for name in sorted(self.names):
            if not name.endswith(".json"):
                continue
            stem = name[: -len(".json")]
            if stem.split(".", 1)[0].isdigit() or stem in self.reached:
                continue
            self.report.add(
                stem, None, WARN, f"metadata/{name} is not delegated by any checked role"
            )


@dataclass
class _BinExpiry:
    """Expiry of many bins at once: how many expired or expire soon, and the
    earliest, so 16,384 bins make two lines rather than 16,384."""

    expired: int = 0
    soon: int = 0
    earliest: timedelta | None = None

    def add(self, left: timedelta, warn: timedelta) -> None:
        if left <= timedelta(0):
            self.expired += 1
        elif left < warn:
            self.soon += 1
        else:
            return
        if self.earliest is None or left < self.earliest:
            self.earliest = left

    def items(self, now: datetime) -> list[tuple[str, str]]:
        if self.earliest is None:
            return []
        when = (now + self.earliest).strftime("%Y-%m-%d %H:%M UTC")
        if self.expired:
            also = f"; {self.soon} more expire soon" if self.soon else ""
            return [(FAIL, f"{self.expired} bins have expired (the first on {when}){also}")]
        return [(WARN, f"{self.soon} bins expire within the warning period (the first on {when})")]


def _parse_keys_once(keys: dict[str, Any]) -> None:
    """The bins all share their delegator's keys: load each once."""
    for key in keys.values():
        parse_once(key)


def _listing(directory: Path) -> set[str]:
    try:
        with os.scandir(directory) as entries:
            return {entry.name for entry in entries if entry.is_file()}
    except FileNotFoundError:
        return set()
