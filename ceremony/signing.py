"""Who still has to sign what; merging signatures; publishing.

Thresholds are python-tuf's to judge: root versions through
``Root.get_root_verification_result`` (a threshold of the previous root's
keys AND of the new root's, TUF 5.3.4), other roles through their
delegator's ``get_verification_result``. This module only adds the people:
each missing key is shown with its holder's name and the token (label and
serial) that holds it, so a holder with an old and a new key on two tokens
is asked for both. Signing with tokens is the guided round of
``ceremony.rounds``; merging and publishing are plans, checked whole
(:func:`plan_merge`, :func:`plan_publish`) before anything is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root, Signature, Targets

from ceremony import audit
from ceremony.errors import BadInput, CheckFailed, NotReviewed, ThresholdUnmet, WorkspaceError
from ceremony.fsutil import read_bounded
from ceremony.keys import owner_of, uri_of
from ceremony.metafile import file_bytes, parse_metadata, payload_bytes, read_file_text
from ceremony.profiles import local_keys
from ceremony.roles import check_root, check_targets, delegator_of
from ceremony.text import visible
from ceremony.workspace import MAX_METADATA_FILE, StagedPayload, Workspace


@dataclass
class Holder:
    """A key and where to find it: the words status and sign prompts use."""

    key: Key
    owner: str
    token_label: str | None
    token_serial: str | None

    @classmethod
    def of(cls, key: Key) -> Holder:
        uri = uri_of(key)
        if uri is None:
            return cls(key, owner_of(key), None, None)
        return cls(key, owner_of(key), uri.token, uri.serial)

    @property
    def keyid(self) -> str:
        return self.key.keyid

    def token_name(self) -> str:
        """The holder's token as people name it: label and serial."""
        if self.token_label or self.token_serial:
            label = visible(self.token_label or "?")
            return f"token {label}, serial {visible(self.token_serial or '?')}"
        return "token unknown"

    def describe(self) -> str:
        return f"{visible(self.owner)} (key {self.key.keyid[:8]}, {self.token_name()})"

    def short(self) -> str:
        """The holder and their token's label, for lists on a small screen."""
        where = visible(self.token_label) if self.token_label else f"key {self.keyid[:8]}"
        return f"{visible(self.owner)} ({where})"


@dataclass
class Requirement:
    """One threshold a staged role must meet."""

    title: str
    threshold: int
    signed: dict[str, Key]
    unsigned: dict[str, Key]

    @property
    def met(self) -> bool:
        return len(self.signed) >= self.threshold

    @property
    def missing(self) -> int:
        return max(0, self.threshold - len(self.signed))

    def still_needed(self) -> list[Holder]:
        return [] if self.met else [Holder.of(k) for k in self.unsigned.values()]


# --------------------------------------------------------------------------
# Requirements


def targets_candidates(ws: Workspace, staged_first: bool = True) -> dict[str, Targets]:
    """Targets roles that could delegate, found by walking named delegations
    from targets: hash bins are leaves and are never loaded, so a repository
    with thousands of bins costs no more than one with none. Staged
    proposals win over published versions unless ``staged_first`` is off."""
    return dict(_walk(ws, staged_first))


def find_delegator(
    ws: Workspace, role: str, staged_first: bool = True
) -> tuple[str, Targets] | None:
    """The targets role that delegates ``role``; stops as soon as it is found,
    so the delegated role itself (perhaps large) is never loaded."""
    for name, signed in _walk(ws, staged_first):
        if delegator_of({name: signed}, role) is not None:
            return name, signed
    return None


def _walk(ws: Workspace, staged_first: bool) -> Iterator[tuple[str, Targets]]:
    staged = set(ws.staged_roles()) if staged_first else set()
    seen: set[str] = set()
    queue = ["targets"]
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        signed = _load_targets(ws, name, name in staged)
        if signed is None:
            continue
        yield name, signed
        if signed.delegations is not None and signed.delegations.roles:
            queue.extend(signed.delegations.roles)


def _load_targets(ws: Workspace, role: str, staged: bool) -> Targets | None:
    """A delegator's fields without its target entries (only delegations are read)."""
    if staged:
        signed = ws.staged_payload(role).shell()
    else:
        data = ws.published_bytes(role)
        if data is None:
            return None
        source = str(ws.published_path(role))
        text = read_file_text(data, source, "targets")
        signed = text.signed if text is not None else parse_metadata(data, source, "targets").signed
    return signed if isinstance(signed, Targets) else None  # a role named "root": no delegator


def current_root(ws: Workspace) -> Root:
    """The root that names the targets keys: published, else staged v1."""
    published = ws.published("root")
    if published is not None:
        return published.signed
    if "root" in ws.staged_roles():
        return ws.staged("root").signed
    raise WorkspaceError("this workspace has no root yet", "start with: ceremony root init")


def requirements(ws: Workspace, role: str, metadata: Metadata) -> list[Requirement]:
    """The thresholds ``metadata`` (a proposal for ``role``) must meet."""
    root = metadata.signed if role == "root" else None
    return requirements_for(ws, role, payload_bytes(metadata), metadata.signatures, root)


def requirements_for(
    ws: Workspace,
    role: str,
    payload: bytes,
    signatures: dict[str, Signature],
    root: Root | None = None,
) -> list[Requirement]:
    """As requirements(), from the signed bytes: a large targets role is
    never parsed to be signed; a root (small) is, for its own keys."""
    if role == "root":
        new_root = root or Root.from_dict(json.loads(payload, strict=False))
        return _root_requirements(ws, new_root, payload, signatures)
    if role == "targets":
        delegator: Root | Targets = current_root(ws)
        source = "root"
    else:
        found = find_delegator(ws, role)
        if found is None:
            raise BadInput(
                f"no targets role delegates {visible(role)!r}",
                "delegate it first with: ceremony targets delegate",
            )
        source, delegator = found
    result = delegator.get_verification_result(role, payload, signatures)
    title = f"{role} keys named by {source}"
    unsigned = local_keys(ws.keys_dir, result.unsigned)
    return [Requirement(title, result.threshold, result.signed, unsigned)]


def _root_requirements(
    ws: Workspace, root: Root, payload: bytes, signatures: dict[str, Signature]
) -> list[Requirement]:
    previous = None
    if root.version > 1:
        published = ws.published("root", root.version - 1)
        if published is None:
            raise WorkspaceError(
                f"root version {root.version - 1} is not published here; "
                f"staged root v{root.version} cannot be checked against it",
                "import the published root history into metadata/",
            )
        previous = published.signed
    result = root.get_root_verification_result(previous, payload, signatures)
    new = Requirement(
        f"root v{root.version} keys (the new root)",
        result.second.threshold,
        result.second.signed,
        local_keys(ws.keys_dir, result.second.unsigned),
    )
    if previous is None:
        return [new]
    old = Requirement(
        f"root v{previous.version} keys (the current root must approve)",
        result.first.threshold,
        result.first.signed,
        local_keys(ws.keys_dir, result.first.unsigned),
    )
    return [old, new]


def needed_keys(reqs: list[Requirement]) -> dict[str, Key]:
    return {kid: key for r in reqs if not r.met for kid, key in r.unsigned.items()}


def authorised_keys(reqs: list[Requirement]) -> dict[str, Key]:
    found: dict[str, Key] = {}
    for r in reqs:
        found.update(r.signed)
        found.update(r.unsigned)
    return found


# --------------------------------------------------------------------------
# Status


@dataclass
class RoleStatus:
    role: str
    version: int
    expires: datetime
    signatures: int
    payload_sha256: str
    reviewed: bool
    requirements: list[Requirement]

    @property
    def complete(self) -> bool:
        return all(r.met for r in self.requirements)


def status(ws: Workspace) -> list[RoleStatus]:
    """Every staged role: read from the staged bytes, its target entries never built."""
    result = []
    for role in ws.staged_roles():
        staged = ws.staged_payload(role)
        signed = staged.shell()
        root = signed if isinstance(signed, Root) else None
        result.append(
            RoleStatus(
                role=role,
                version=signed.version,
                expires=signed.expires,
                signatures=len(staged.signatures),
                payload_sha256=staged.digest,
                reviewed=ws.staged_state(role).reviewed_sha256 == staged.digest,
                requirements=requirements_for(ws, role, staged.payload, staged.signatures, root),
            )
        )
    return result


def tokens_needed(ws: Workspace, role: str, staged: StagedPayload | None = None) -> list[Holder]:
    """Holders still needed for ``role``, one entry per token, in order."""
    staged = staged or ws.staged_payload(role)
    reqs = requirements_for(ws, role, staged.payload, staged.signatures)
    seen: set[tuple[str | None, str | None]] = set()
    holders = []
    for req in reqs:
        for holder in req.still_needed():
            where = (holder.token_label, holder.token_serial)
            if where not in seen:
                seen.add(where)
                holders.append(holder)
    return holders


# --------------------------------------------------------------------------
# Review gate


def require_reviewed(ws: Workspace, role: str, digest: str) -> str:
    """Only the payload that review showed may be signed."""
    reviewed = ws.staged_state(role).reviewed_sha256
    if reviewed != digest:
        raise NotReviewed(
            f"staged {visible(role)} (payload {digest[:16]}...) has not been reviewed",
            f"run: ceremony review {visible(role)}, and compare the hash with the witnesses",
        )
    return digest


# --------------------------------------------------------------------------
# Merge


@dataclass
class MergeOutcome:
    role: str
    added: list[Holder] = field(default_factory=list)
    already: list[Holder] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


@dataclass
class MergePlan:
    """Signatures made elsewhere, each already checked; ``added`` are kept on apply."""

    role: str
    source: str
    payload_sha256: str
    signatures: dict[str, Signature]
    outcome: MergeOutcome


def role_from_filename(path: Path) -> str:
    name = path.name
    if name.endswith(".json"):
        name = name[: -len(".json")]
    head, _, rest = name.partition(".")
    return rest if head.isdigit() and rest else name


def plan_merge(ws: Workspace, path: Path, role: str | None = None) -> MergePlan:
    """Check the signatures in a copy of a proposal signed elsewhere."""
    path = Path(path)
    data = read_bounded(path, MAX_METADATA_FILE, "signed copy")
    role = role or role_from_filename(path)
    kind = "root" if role == "root" else "targets"
    return plan_merge_metadata(ws, role, parse_metadata(data, str(path), kind), str(path))


def plan_merge_metadata(ws: Workspace, role: str, other: Metadata, source: str) -> MergePlan:
    """As plan_merge, for metadata already parsed (an import): nothing is written."""
    staged = ws.staged_payload(role)
    theirs = payload_bytes(other)
    if theirs != staged.payload:
        raise BadInput(
            f"{visible(source)} is not the proposal staged here: its payload hash is "
            f"{hashlib.sha256(theirs).hexdigest()[:16]}..., ours is {staged.digest[:16]}...",
            "merge only copies of the same staged version, signed unchanged",
        )
    outcome = MergeOutcome(role)
    root = other.signed if role == "root" else None
    kept: dict[str, Signature] = {}
    signatures = dict(staged.signatures)
    for keyid, signature in other.signatures.items():
        if _judge(ws, staged, signatures, root, keyid, signature, outcome):
            kept[keyid] = signature
            signatures[keyid] = signature
    return MergePlan(role, source, staged.digest, kept, outcome)


def _judge(
    ws: Workspace,
    staged: StagedPayload,
    signatures: dict[str, Signature],
    root: Root | None,
    keyid: str,
    signature: Signature,
    outcome: MergeOutcome,
) -> bool:
    """Whether one incoming signature is new, authorised and valid (python-tuf judges)."""
    role = staged.role
    reqs = requirements_for(ws, role, staged.payload, signatures, root)
    authorised = authorised_keys(reqs)
    if keyid not in authorised:
        outcome.unknown.append(keyid)
        return False
    holder = Holder.of(authorised[keyid])
    if any(keyid in r.signed for r in reqs):
        outcome.already.append(holder)
        return False
    candidate = {**signatures, keyid: signature}
    judged = requirements_for(ws, role, staged.payload, candidate, root)
    if not any(keyid in r.signed for r in judged):
        outcome.invalid.append(keyid)
        return False
    outcome.added.append(holder)
    return True


def apply_merge(ws: Workspace, plan: MergePlan) -> MergeOutcome:
    """Keep the checked signatures (added to what is on disk now) and record each."""
    if plan.signatures:
        ws.add_signatures(plan.role, plan.payload_sha256, plan.signatures)
    for holder in plan.outcome.added:
        ws.record(
            audit.SIGNATURE_MERGED,
            holder.owner,
            role=plan.role,
            keyid=holder.keyid,
            payload_sha256=plan.payload_sha256,
            source=plan.source,
        )
    return plan.outcome


# --------------------------------------------------------------------------
# Publish


@dataclass
class PublishPlan:
    """A staged role checked completely, and the exact file to write."""

    role: str
    version: int
    payload_sha256: str
    metadata: Metadata
    data: bytes
    requirements: list[Requirement]


def _expected_version(ws: Workspace, role: str, staged: Metadata, data: bytes) -> int:
    """The next version; or the staged one itself when a publish of it was
    cut short after writing N.ROLE.json with exactly these bytes."""
    numbered = ws.published_path(role, staged.signed.version)
    if numbered.is_file() and numbered.read_bytes() == data:
        return int(staged.signed.version)
    if role == "root":
        versions = ws.root_versions()
        return versions[-1] + 1 if versions else 1
    published = ws.published(role)
    return published.signed.version + 1 if published is not None else 1


def plan_publish(ws: Workspace, role: str, now: datetime | None = None) -> PublishPlan:
    """Every check a publish needs, with nothing written."""
    metadata, staged = ws.staged_full(role)
    root = metadata.signed if role == "root" else None
    if isinstance(metadata.signed, Root):
        check_root(metadata.signed)
    elif isinstance(metadata.signed, Targets):
        check_targets(metadata.signed)
    reqs = requirements_for(ws, role, staged.payload, staged.signatures, root)
    unmet = [r for r in reqs if not r.met]
    if unmet:
        raise ThresholdUnmet(
            _unmet_text(role, unmet), "collect the signatures first (see: ceremony status)"
        )
    data = file_bytes(staged.signatures, staged.signed_text)
    expected = _expected_version(ws, role, metadata, data)
    if metadata.signed.version != expected:
        raise WorkspaceError(
            f"staged {visible(role)} is version {metadata.signed.version}; the next version to "
            f"publish is {expected}",
            f"stage {visible(role)} again from the newest published version",
        )
    if metadata.signed.is_expired(now or datetime.now(UTC)):
        raise CheckFailed(
            f"staged {visible(role)} expired on {metadata.signed.expires:%Y-%m-%d}",
            f"stage {visible(role)} again with a later expiry (targets bump / root rotate)",
        )
    _require_published_delegator(ws, role)
    return PublishPlan(role, metadata.signed.version, staged.digest, metadata, data, reqs)


def apply_publish(ws: Workspace, plan: PublishPlan) -> list[Path]:
    """Write the checked version where clients look, unstage it, record it."""
    with ws.writing():
        current = ws.staged_payload(plan.role)
        if current.digest != plan.payload_sha256 or file_bytes(
            current.signatures, current.signed_text
        ) != plan.data:
            raise WorkspaceError(
                f"staged {visible(plan.role)} changed while it was being published",
                f"check it again with: ceremony status, then publish {visible(plan.role)}",
            )
        written = ws.write_published(plan.role, plan.metadata, plan.data)
        ws.unstage(plan.role)
    ws.record(
        audit.PUBLISH,
        role=plan.role,
        version=plan.version,
        payload_sha256=plan.payload_sha256,
        files=[str(p.relative_to(ws.root)) for p in written],
    )
    return written


def _require_published_delegator(ws: Workspace, role: str) -> None:
    if role == "root":
        return
    if role == "targets":
        if not ws.root_versions():
            raise WorkspaceError(
                "root must be published before targets", "publish root first: ceremony publish root"
            )
        return
    if find_delegator(ws, role, staged_first=False) is None:
        raise WorkspaceError(
            f"no published targets role delegates {visible(role)!r} yet",
            "publish the delegating role first",
        )


def _unmet_text(role: str, unmet: list[Requirement]) -> str:
    parts = []
    for req in unmet:
        people = "; ".join(h.describe() for h in req.still_needed())
        parts.append(
            f"{req.title}: {len(req.signed)} of {req.threshold} signatures, "
            f"{req.missing} more needed from: {people}"
        )
    return f"staged {visible(role)} does not meet its thresholds: " + " | ".join(parts)
