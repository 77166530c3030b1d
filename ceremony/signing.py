"""Who still has to sign what, signing with tokens, merging, publishing.

Thresholds are python-tuf's to judge: root versions through
``Root.get_root_verification_result`` (a threshold of the previous root's
keys AND of the new root's, TUF 5.3.4), other roles through their
delegator's ``get_verification_result``. This module only adds the people:
each missing key is shown with its holder's name and the token (label and
serial) that holds it, so a holder with an old and a new key on two tokens
is asked for both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pkcs11
from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root, Signature, Targets

from ceremony import audit, tokens
from ceremony.errors import BadInput, CheckFailed, KeyError_, WorkspaceError
from ceremony.keys import URI_FIELD, Pkcs11Uri, owner_of, tuf_key_from_token, uri_for
from ceremony.metafile import file_bytes, parse_metadata, payload_bytes
from ceremony.profiles import local_keys
from ceremony.roles import delegator_of
from ceremony.signer import POOL, Pkcs11Signer
from ceremony.workspace import StagedPayload, Workspace


@dataclass
class Holder:
    """A key and where to find it: the words status and sign prompts use."""

    key: Key
    owner: str
    token_label: str | None
    token_serial: str | None

    @classmethod
    def of(cls, key: Key) -> Holder:
        uri_text = key.unrecognized_fields.get(URI_FIELD)
        uri = Pkcs11Uri.parse(uri_text) if isinstance(uri_text, str) else Pkcs11Uri()
        return cls(key, owner_of(key), uri.token, uri.serial)

    def describe(self) -> str:
        where = "token unknown"
        if self.token_label or self.token_serial:
            where = f"token {self.token_label or '?'}, serial {self.token_serial or '?'}"
        return f"{self.owner} (key {self.key.keyid[:8]}, {where})"


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


def _walk(ws: Workspace, staged_first: bool):
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
    if staged:
        return ws.staged(role).signed
    published = ws.published(role)
    return published.signed if published is not None else None


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
                f"no targets role delegates {role!r}",
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
    result = []
    for role in ws.staged_roles():
        metadata, staged = ws.staged_full(role)
        root = metadata.signed if role == "root" else None
        result.append(
            RoleStatus(
                role=role,
                version=metadata.signed.version,
                expires=metadata.signed.expires,
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
# Signing


@dataclass
class SignOutcome:
    role: str
    payload_sha256: str
    signed: list[Holder] = field(default_factory=list)
    already: list[Holder] = field(default_factory=list)
    not_needed: list[Holder] = field(default_factory=list)
    not_authorised: list[str] = field(default_factory=list)
    complete: bool = False


def require_reviewed(ws: Workspace, role: str, digest: str) -> str:
    """Only the payload that review showed may be signed."""
    reviewed = ws.staged_state(role).reviewed_sha256
    if reviewed != digest:
        raise BadInput(
            f"staged {role} (payload {digest[:16]}...) has not been reviewed",
            f"run: ceremony review {role}, and compare the hash with the witnesses",
        )
    return digest


def _record_token(ws: Workspace, token: pkcs11.Token) -> None:
    ws.record(audit.TOKEN_SEEN, **tokens.describe_token(token.slot).to_dict())


@dataclass
class SignOptions:
    module_path: Path
    pin_source: tokens.PinSource | None
    key_label: str | None = None
    final_try: bool = False
    allow_exportable: bool = False


def sign_with_token(
    ws: Workspace, staged: StagedPayload, token: pkcs11.Token, options: SignOptions
) -> SignOutcome:
    """Sign the staged role with every key on ``token`` that it still needs.

    Each signature is verified by the signer, then written to the staged
    file and recorded, before the next key is used; ``staged`` gathers them,
    so one read serves every token of a signing round.
    """
    role = staged.role
    outcome = SignOutcome(role, require_reviewed(ws, role, staged.digest))
    root = Root.from_dict(json.loads(staged.signed_text)) if role == "root" else None
    _record_token(ws, token)
    session = POOL.session(token, options.module_path, options.pin_source, options.final_try)
    for token_key in tokens.list_keys(session):
        if options.key_label and token_key.label != options.key_label:
            continue
        _sign_one(ws, staged, root, token, token_key, options, outcome)
    touched = outcome.signed or outcome.already or outcome.not_needed
    if options.key_label and not touched and options.key_label not in outcome.not_authorised:
        raise KeyError_(
            f"no key labelled {options.key_label!r} on token {token.label.strip()!r}",
            "check the label with: ceremony key list",
        )
    reqs = requirements_for(ws, role, staged.payload, staged.signatures, root)
    outcome.complete = all(r.met for r in reqs)
    return outcome


def _sign_one(
    ws: Workspace,
    staged: StagedPayload,
    root: Root | None,
    token: pkcs11.Token,
    token_key: tokens.TokenKey,
    options: SignOptions,
    outcome: SignOutcome,
) -> None:
    try:
        on_token = tuf_key_from_token(token, token_key)
    except (KeyError_, BadInput):
        outcome.not_authorised.append(token_key.label)
        return
    role = staged.role
    reqs = requirements_for(ws, role, staged.payload, staged.signatures, root)
    keyid = on_token.keyid
    authorised = authorised_keys(reqs)
    if keyid not in authorised:
        outcome.not_authorised.append(token_key.label)
        return
    holder = Holder.of(authorised[keyid])
    if any(keyid in r.signed for r in reqs):
        outcome.already.append(holder)
        return
    if keyid not in needed_keys(reqs):
        outcome.not_needed.append(holder)
        return
    signer = Pkcs11Signer(
        uri_for(token, token_key),
        authorised[keyid],
        options.pin_source,
        module_path=options.module_path,
        allow_exportable=options.allow_exportable,
        final_try=options.final_try,
    )
    staged.signatures[keyid] = signer.sign(staged.payload)  # verified by the signer
    ws.save_signatures(staged)
    if not token_key.evidence.born_on_token:
        ws.record(
            audit.EXCEPTION,
            holder.owner,
            expected="a key generated on the token that can never leave it",
            happened=f"key {token_key.label} fails: {', '.join(token_key.evidence.failures())}",
            decision="signed anyway because --allow-exportable was given",
        )
    ws.record(
        audit.SIGNATURE_MADE,
        holder.owner,
        role=role,
        keyid=keyid,
        token=token.label.strip(),
        serial=tokens.serial_of(token),
        payload_sha256=outcome.payload_sha256,
    )
    outcome.signed.append(holder)


# --------------------------------------------------------------------------
# Merge


@dataclass
class MergeOutcome:
    role: str
    added: list[Holder] = field(default_factory=list)
    already: list[Holder] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def role_from_filename(path: Path) -> str:
    name = path.name
    if name.endswith(".json"):
        name = name[: -len(".json")]
    head, _, rest = name.partition(".")
    return rest if head.isdigit() and rest else name


def merge(ws: Workspace, path: Path, role: str | None = None) -> MergeOutcome:
    """Add signatures made elsewhere on a byte-identical copy of a proposal."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInput(f"cannot read {path}: {error.strerror}") from None
    role = role or role_from_filename(path)
    staged = ws.staged_payload(role)
    other = parse_metadata(data, str(path), "root" if role == "root" else "targets")
    theirs = payload_bytes(other)
    if theirs != staged.payload:
        raise BadInput(
            f"{path} is not the proposal staged here: its payload hash is "
            f"{hashlib.sha256(theirs).hexdigest()[:16]}..., ours is {staged.digest[:16]}...",
            "merge only copies of the same staged version, signed unchanged",
        )
    outcome = MergeOutcome(role)
    root = other.signed if role == "root" else None
    for keyid, signature in other.signatures.items():
        _merge_one(ws, staged, root, keyid, signature, outcome)
    return outcome


def _merge_one(
    ws: Workspace,
    staged: StagedPayload,
    root: Root | None,
    keyid: str,
    signature: Signature,
    outcome: MergeOutcome,
) -> None:
    role = staged.role
    reqs = requirements_for(ws, role, staged.payload, staged.signatures, root)
    authorised = authorised_keys(reqs)
    if keyid not in authorised:
        outcome.unknown.append(keyid)
        return
    holder = Holder.of(authorised[keyid])
    if any(keyid in r.signed for r in reqs):
        outcome.already.append(holder)
        return
    candidate = {**staged.signatures, keyid: signature}
    judged = requirements_for(ws, role, staged.payload, candidate, root)
    if not any(keyid in r.signed for r in judged):
        outcome.invalid.append(keyid)
        return
    staged.signatures[keyid] = signature
    ws.save_signatures(staged)
    ws.record(
        audit.SIGNATURE_MERGED, holder.owner, role=role, keyid=keyid, payload_sha256=staged.digest
    )
    outcome.added.append(holder)


# --------------------------------------------------------------------------
# Publish


def _expected_version(ws: Workspace, role: str, staged: Metadata, data: bytes) -> int:
    """The next version; or the staged one itself when a publish of it was
    cut short after writing N.ROLE.json with exactly these bytes."""
    numbered = ws.published_path(role, staged.signed.version)
    if numbered.is_file() and numbered.read_bytes() == data:
        return staged.signed.version
    if role == "root":
        versions = ws.root_versions()
        return versions[-1] + 1 if versions else 1
    published = ws.published(role)
    return published.signed.version + 1 if published is not None else 1


def publish(ws: Workspace, role: str, now: datetime | None = None) -> list[Path]:
    """Check the staged role completely, then write it where clients look."""
    metadata, staged = ws.staged_full(role)
    root = metadata.signed if role == "root" else None
    reqs = requirements_for(ws, role, staged.payload, staged.signatures, root)
    unmet = [r for r in reqs if not r.met]
    if unmet:
        raise CheckFailed(_unmet_text(role, unmet), "collect the signatures: ceremony status")
    data = file_bytes(staged.signatures, staged.signed_text)
    expected = _expected_version(ws, role, metadata, data)
    if metadata.signed.version != expected:
        raise WorkspaceError(
            f"staged {role} is version {metadata.signed.version}; the next version to "
            f"publish is {expected}",
            f"stage {role} again from the newest published version",
        )
    if metadata.signed.is_expired(now or datetime.now(UTC)):
        raise CheckFailed(f"staged {role} expired on {metadata.signed.expires:%Y-%m-%d}")
    _require_published_delegator(ws, role)
    written = ws.write_published(role, metadata, data)
    ws.unstage(role)
    ws.record(
        audit.PUBLISH,
        role=role,
        version=metadata.signed.version,
        payload_sha256=staged.digest,
        files=[str(p.relative_to(ws.root)) for p in written],
    )
    return written


def _require_published_delegator(ws: Workspace, role: str) -> None:
    if role == "root":
        return
    if role == "targets":
        if not ws.root_versions():
            raise WorkspaceError("publish root before targets", "ceremony publish root")
        return
    if find_delegator(ws, role, staged_first=False) is None:
        raise WorkspaceError(
            f"no published targets role delegates {role!r} yet",
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
    return f"staged {role} does not meet its thresholds: " + " | ".join(parts)


# --------------------------------------------------------------------------
# Token prompts for a guided signing round


def find_holder_token(lib: pkcs11.lib, holder: Holder) -> pkcs11.Token | None:
    for selector in (holder.token_serial, holder.token_label):
        if not selector:
            continue
        try:
            return tokens.find_token(lib, selector)
        except tokens.TokenError:
            continue
    return None
