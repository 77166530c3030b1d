"""Checking a whole workspace the way a TUF client would, and saying why.

A client that starts from root version 1 (or from a root it already
trusts) must be able to walk every published root, each one signed by a
threshold of the previous version's root keys and of its own, with no
version missing; then top-level targets signed by the newest root's
targets keys; then each offline delegated role signed by its delegator.
The signature checks are python-tuf's own (``get_root_verification_result``
and ``get_verification_result``): this module only decides what to check,
in which order, and how to say what failed; and one thing python-tuf does
not: it counts signatures by keyid, so one public key listed under two
keyids (keytype ``ecdsa`` and ``ecdsa-sha2-nistp256``, say) would let one
token meet a threshold twice. A role whose threshold is met only that way
fails here (``ceremony.keys.identity``); one that lists a key twice but
meets its threshold with distinct keys is a warning.

Each file is read and parsed once; hash-bin files are looked up in one
directory listing, so 16,384 bins cost 16,384 verifications and no more.

The signatures are checked on the exact bytes the file holds. A file the
tool wrote is ``{"signatures":[...],"signed":<payload>}`` with the payload
already in canonical JSON; when the file is exactly that layout (proved by
one C-speed ``json.dumps`` compared with its bytes: cheaper than scanning
for key order and white space), the slice is handed to python-tuf as the
payload, as the client's own re-serialisation would produce it byte for
byte. Any other file takes the full path (``parse_metadata``, payload
re-encoded by securesystemslib). python-tuf objects are built only where
their fields are read: roots and delegating targets roles in full; for a
leaf role (no delegations) verification reads the type, spec version,
version and expiry, so no TargetFile is built for its entries (which were
checked in full when the tool staged or imported them).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.exceptions import FormatError, VerificationError
from securesystemslib.signer import Signature
from tuf.api.metadata import Metadata, Root, Targets, VerificationResult

from ceremony.errors import BadInput, DuplicateKey, KeyError_
from ceremony.keys import check_distinct, identity, owner_of, parse_once
from ceremony.metafile import _check_spec_version, parse_metadata, payload_bytes
from ceremony.text import visible

OK, WARN, FAIL = "ok", "warn", "fail"
ONLINE_ROLES = ("snapshot", "timestamp")
NUMBERED_ROOT = re.compile(r"^([0-9]+)\.root\.json$")
_FILE_HEAD = b'{"signatures":'
_FILE_MIDDLE = b',"signed":'
_EXPIRES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SIGNATURE = rb'\{"keyid":"[0-9a-f]{64}","sig":"[0-9a-f]+"\}'
_SIGNATURES = re.compile(rb"\[" + _SIGNATURE + rb"(?:," + _SIGNATURE + rb")*\]")
"""The signatures as the tool writes them (canonical): checked without an encoder."""


@dataclass(frozen=True)
class _Leaf:
    """What verification reads of a targets role that delegates nothing."""

    version: int
    expires: datetime
    delegations: None = None


@dataclass(frozen=True)
class _Loaded:
    """One metadata file: its signed part (python-tuf object or _Leaf), its
    signatures, the exact payload its keys signed, and its bytes."""

    signed: Any
    signatures: dict[str, Signature]
    payload: bytes
    data: bytes


class _NotFast(Exception):
    """The file is not in the tool's own layout: take the full path."""


def _refuse(_value: str) -> None:
    raise _NotFast


# Made once: json.loads and json.dumps with options build a new coder per call.
_DECODER = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse)
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _text(value: Any) -> bytes:
    """metafile.json_text, with the encoder made once."""
    return _ENCODER.encode(value).encode("utf-8")


def _exact_layout(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The parsed document and the exact bytes of its signed part, when the file
    is exactly ``{"signatures":<canonical>,"signed":<canonical>}\\n``; else _NotFast.

    With no backslash anywhere no string holds a quote, so the first
    ``,"signed":`` is where the payload starts; with no float either,
    standard JSON with sorted keys and no spaces is canonical JSON, so one
    dumps compared with the payload's bytes proves them what a client's
    re-serialisation gives (duplicate keys, white space, key order or "-0"
    all make them differ).
    """
    if b"\\" in data or not data.startswith(_FILE_HEAD) or not data.endswith(b"}\n"):
        raise _NotFast
    middle = data.find(_FILE_MIDDLE)
    try:
        document = _DECODER.decode(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _NotFast from None
    if middle < 0 or not isinstance(document, dict) or list(document) != ["signatures", "signed"]:
        raise _NotFast
    signatures, signed = data[len(_FILE_HEAD) : middle], data[middle + len(_FILE_MIDDLE) : -2]
    if not isinstance(document["signed"], dict):
        raise _NotFast
    if not _SIGNATURES.fullmatch(signatures) and _text(document["signatures"]) != signatures:
        raise _NotFast
    if _text(document["signed"]) != signed:
        raise _NotFast
    return document, signed


@functools.lru_cache(maxsize=1024)
def _expiry_of(text: str) -> datetime | None:
    """python-tuf's expiry format, parsed once per distinct value (bins share theirs)."""
    if not _EXPIRES.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        return None


@functools.lru_cache(maxsize=64)
def _spec_supported(value: str) -> bool:
    try:
        _check_spec_version(value, "")
    except BadInput:
        return False
    return True


def _leaf(signed: dict[str, Any], source: str) -> _Leaf:
    """A targets role that delegates nothing, with what verification reads checked
    as python-tuf would; anything unusual takes the full path."""
    version, expires = signed.get("version"), signed.get("expires")
    spec = signed.get("spec_version")
    if (
        signed.get("_type") != "targets"
        or "delegations" in signed
        or not isinstance(signed.get("targets"), dict)
        or type(version) is not int
        or version < 1
        or not isinstance(expires, str)
        or not isinstance(spec, str)
    ):
        raise _NotFast
    when = _expiry_of(expires)
    if when is None or not _spec_supported(spec):
        raise _NotFast  # the full path says what is wrong, and where
    return _Leaf(version, when)


def _signatures(listed: Any) -> dict[str, Signature]:
    try:
        signatures = {sig["keyid"]: Signature.from_dict(dict(sig)) for sig in listed}
    except (KeyError, TypeError, ValueError):
        raise _NotFast from None
    if len(signatures) != len(listed):
        raise _NotFast
    return signatures


def _payload(metadata: Metadata, source: str) -> bytes:
    """The canonical payload of parsed metadata; BadInput when it has none (floats)."""
    try:
        return payload_bytes(metadata)
    except (FormatError, TypeError, ValueError):
        raise BadInput(
            f"{source} holds values canonical JSON cannot encode (a float, say), "
            "so no signature over it can be checked",
            "use the file as the tool wrote it; do not edit metadata by hand",
        ) from None


def load_exact(data: bytes, source: str, kind: str) -> _Loaded:
    """One metadata file, its payload taken from its own bytes when it can be.

    BadInput for a file that is not metadata of ``kind``, as parse_metadata.
    """
    try:
        document, payload = _exact_layout(data)
        signatures = _signatures(document["signatures"])
    except _NotFast:
        metadata = parse_metadata(data, source, kind)
        return _Loaded(metadata.signed, metadata.signatures, _payload(metadata, source), data)
    if kind == "targets":
        try:
            return _Loaded(_leaf(document["signed"], source), signatures, payload, data)
        except _NotFast:
            pass
    metadata = parse_metadata(data, source, kind)
    return _Loaded(metadata.signed, metadata.signatures, payload, data)


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


def _load_trusted_root(path: Path) -> _Loaded:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise BadInput(
            f"cannot read the trusted root {path}: {error.strerror}",
            "give the path of a root.json you already trust",
        ) from None
    return load_exact(data, str(path), "root")


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
        self._where = str(directory)
        self.warn = timedelta(days=warn_days)
        self.now = now
        self.report = VerifyReport()
        self.names = _listing(directory)
        self.reached: set[str] = set()
        self._identities: dict[str, bytes | None] = {}

    # ------------------------------------------------- one key, two keyids

    def _identity(self, key: Any) -> bytes | None:
        """The public key itself, once per keyid (a keyid names one key's
        content); None for a key that holds no usable public key."""
        if key.keyid not in self._identities:
            try:
                self._identities[key.keyid] = identity(key)
            except KeyError_:
                self._identities[key.keyid] = None
        return self._identities[key.keyid]

    def _judge(
        self, result: VerificationResult, label: str, what: str
    ) -> tuple[bool, str | None]:
        """Whether distinct public keys meet the threshold python-tuf judged
        met, and words about a public key the role lists under two keyids
        (None when it lists every key once): why it failed, or a warning."""
        if len(result.signed) + len(result.unsigned) < 2:
            return result.verified, None  # most roles, and every hash bin of one key
        keys = [*result.signed.values(), *result.unsigned.values()]
        usable = [key for key in keys if self._identity(key) is not None]
        if len({self._identity(key) for key in usable}) == len(usable):
            return result.verified, None
        try:
            check_distinct(usable, what)
        except DuplicateKey as error:
            twice = error.problem
        else:
            return result.verified, None
        distinct = len({self._identity(key) for key in result.signed.values()} - {None})
        if result.verified and distinct < result.threshold:
            return False, (
                f"signed by a threshold of {label} only if one key is counted twice: {twice} "
                f"({distinct} distinct keys signed, {result.threshold} needed)"
            )
        return result.verified, f"{twice}; the threshold is met without counting it twice"

    # ------------------------------------------------------------ reading

    def _load(self, name: str, role: str, kind: str) -> _Loaded | None:
        """Read one file; a file that is not metadata becomes a bad-input item."""
        try:
            with open(os.path.join(self._where, name), "rb") as handle:
                data = handle.read()
            return load_exact(data, f"metadata/{name}", kind)
        except OSError as error:
            self.report.add(role, None, FAIL, f"cannot read metadata/{name}: {error.strerror}")
            return None
        except BadInput as error:
            self.report.items.append(VerifyItem(role, None, FAIL, error.problem, True))
            return None

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

    def root_chain(self, trusted: _Loaded | None) -> _Loaded | None:
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

    def _first_root(self, versions: list[int]) -> _Loaded | None:
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
        result = loaded.signed.get_root_verification_result(
            None, loaded.payload, loaded.signatures
        )
        self._root_result(1, result, "its own root keys")
        return loaded

    def _trusted_start(self, trusted: _Loaded, versions: list[int]) -> _Loaded:
        version = trusted.signed.version
        result = trusted.signed.get_root_verification_result(
            None, trusted.payload, trusted.signatures
        )
        self._root_result(version, result, "its own root keys (the trusted root)")
        if version in versions:
            loaded = self._load_root(version)
            if loaded is not None and loaded.payload != trusted.payload:
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

    def _load_root(self, version: int) -> _Loaded | None:
        loaded = self._load(f"{version}.root.json", "root", "root")
        if loaded is not None and loaded.signed.version != version:
            self.report.add(
                "root",
                version,
                FAIL,
                f"metadata/{version}.root.json holds root version {loaded.signed.version}",
            )
            return None
        return loaded

    def _root_step(self, previous: _Loaded, version: int) -> _Loaded | None:
        loaded = self._load_root(version)
        if loaded is None:
            return None
        try:
            result = loaded.signed.get_root_verification_result(
                previous.signed, loaded.payload, loaded.signatures
            )
        except (ValueError, VerificationError) as error:
            self.report.add("root", version, FAIL, f"signatures cannot be checked: {error}")
            return loaded
        self._root_result(version, result, f"the root keys of version {version - 1}", True)
        return loaded

    def _root_result(
        self, version: int, result: Any, previous_label: str, chained: bool = False
    ) -> None:
        before = version - 1 if chained else version
        first_met, first_words = self._judge(
            result.first, previous_label, f"root version {before}'s root role"
        )
        second_met, second_words = self._judge(
            result.second, "its own root keys", f"root version {version}'s root role"
        )
        if first_met and second_met:
            reason = f"signed by a threshold of {previous_label}"
            if chained:
                reason += " and of its own"
            self.report.add("root", version, OK, reason)
            for words in dict.fromkeys(w for w in (first_words, second_words) if w):
                self.report.add("root", version, WARN, words)
            return
        reasons = []
        if not result.first.verified:
            reasons.append(
                f"not signed by a threshold of {previous_label}: {_signers(result.first)}"
            )
        elif not first_met and first_words:
            reasons.append(first_words)
        if not result.second.verified:
            reasons.append(
                f"not signed by a threshold of its own root keys: {_signers(result.second)}"
            )
        elif not second_met and second_words:
            reasons.append(second_words)
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

    def online_roles(self, root: _Loaded) -> None:
        """Snapshot and timestamp, when a copy sits in metadata/: signatures only
        fail; their expiry is the online server's business and only warns."""
        for role in ONLINE_ROLES:
            name = f"{role}.json"
            if name not in self.names:
                continue
            self.reached.add(role)
            loaded = self._load(name, role, role)
            if loaded is not None:
                self._delegated(root.signed, role, loaded, online=True)

    def targets_tree(self, root: _Loaded) -> None:
        """Top-level targets by the root, then every delegation below it."""
        if "targets.json" not in self.names:
            self.report.add("targets", None, WARN, "no targets metadata published yet")
            return
        self.reached.add("targets")
        loaded = self._load("targets.json", "targets", "targets")
        if loaded is None:
            return
        self._delegated(root.signed, "targets", loaded)
        self._same_as_numbered("targets", loaded)
        queue: deque[tuple[str, Targets]] = deque([("targets", loaded.signed)])
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
            if self._delegated(delegator, name, loaded, parent=parent) and first:
                self._same_as_numbered(name, loaded)
                found.append((name, loaded.signed))
        return found

    def _bins(self, parent: str, delegator: Targets) -> list[tuple[str, Targets]]:
        """Hash bins whose files exist: signature failures one by one, the
        rest counted, and expiry summed up (bins usually expire together)."""
        delegations = delegator.delegations
        assert delegations is not None and delegations.succinct_roles is not None
        succinct = delegations.succinct_roles
        _parse_keys_once(delegations.keys)
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
            if loaded is None or not self._delegated(delegator, name, loaded, quiet=True):
                continue
            verified += 1
            expiry.add(loaded.signed.expires - self.now, self.warn)
            if loaded.signed.delegations is not None:
                found.append((name, loaded.signed))
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
        loaded: _Loaded,
        parent: str = "root",
        online: bool = False,
        quiet: bool = False,
    ) -> bool:
        """Check one delegated role's signatures and expiry; True when good."""
        version = loaded.signed.version
        try:
            result = delegator.get_verification_result(role, loaded.payload, loaded.signatures)
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
        what = f"root's {role} role" if parent == "root" else f"delegated role {visible(role)}"
        met, words = self._judge(result, f"{parent}'s keys for {role}", what)
        if not met:
            self.report.add(role, version, FAIL, words or "")
            return False
        if quiet:
            return True
        self.report.add(role, version, OK, f"signed by a threshold of {parent}'s keys")
        if words:
            self.report.add(role, version, WARN, words)
        return self._expiry(role, loaded.signed, online)

    def _same_as_numbered(self, role: str, loaded: _Loaded) -> None:
        """ROLE.json must be the copy of its own numbered version, when kept."""
        numbered = f"{loaded.signed.version}.{role}.json"
        if numbered in self.names and (self.directory / numbered).read_bytes() != loaded.data:
            self.report.add(
                role,
                loaded.signed.version,
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
