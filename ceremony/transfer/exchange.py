"""What crosses the air gap in a bundle, and what a bundle does on arrival.

Export gathers files from the workspace with their exact bytes (TUF pins
them by length and hash, so nothing is re-serialised) into a
:class:`~ceremony.transfer.bundle.Bundle` of one of three purposes:

``publish``
    the newest published metadata (``metadata/root.json`` and every current
    ``ROLE.json``), the whole root history (every ``N.root.json``), the
    numbered ``N.ROLE.json`` of each current version, and the ceremony
    transcripts. What the online server publishes.
``partial``
    ``staged/ROLE.json`` with the signatures collected so far, and the
    transcripts: for another site that holds other keys of the same proposal.
``keys``
    the public keys in ``keys/``.

Import works in two phases so that a refused bundle leaves nothing behind:
:func:`plan_import` checks everything (repository name, every file's
parse, conflicts with what is published or staged here, delegations) and
writes nothing; :func:`apply_import` then acts:

- signatures of a ``partial`` bundle are merged into the local proposal
  through :func:`ceremony.signing.merge`, which verifies each one; when the
  role is not staged here yet, the proposal is staged first (without
  signatures, so each is verified on merge, and unreviewed, so nobody signs
  it before ``ceremony review``);
- a ``publish`` bundle's targets roles newer than what is published here
  (new delegated metadata from the server, say) are staged the same way as
  proposals for review; identical files are reported as already published;
  root files must match the root history here, since a root is only ever
  published by a ceremony; snapshot and timestamp (online roles) are left
  alone;
- a ``keys`` bundle's public keys are added to ``keys/``.

Transcripts of the other site that differ from ours are kept beside ours in
``transcripts/imported/<bundle hash>/`` as evidence (``ceremony audit``
does not mistake them for the current record). Each import and export
writes an ``import``/``export`` record naming every file and its SHA-256.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root, Targets

from ceremony import audit, signing
from ceremony.errors import BadInput, CeremonyError, CheckFailed, TransferError, WorkspaceError
from ceremony.fsutil import write_atomic
from ceremony.keys import URI_FIELD, Pkcs11Uri, owner_of, parse_key_bytes
from ceremony.metafile import parse_metadata, payload_sha256
from ceremony.roles import check_root, check_targets, delegator_of
from ceremony.text import visible
from ceremony.transfer.bundle import Bundle, BundleFile, check_repository, write_dir
from ceremony.workspace import Workspace, check_role_name

PUBLISH, PARTIAL, KEYS = "publish", "partial", "keys"
IMPORTED_TRANSCRIPTS = "transcripts/imported"
ONLINE_ROLES = ("snapshot", "timestamp")


# --------------------------------------------------------------------------
# Export


def _read(ws: Workspace, path: Path) -> BundleFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WorkspaceError(
            f"cannot read {path}: {exc.strerror}", "check the workspace medium"
        ) from None
    return BundleFile(path.relative_to(ws.root).as_posix(), data)


def transcript_files(ws: Workspace) -> list[BundleFile]:
    """The ceremony records: evidence travels with what it produced."""
    directory = ws.root / audit.TRANSCRIPTS_DIR
    return [_read(ws, path) for path in sorted(directory.glob("*.jsonl")) if path.is_file()]


def _unknown(wanted: Iterable[str], available: list[str], what: str, fix: str) -> None:
    missing = [role for role in wanted if role not in available]
    if missing:
        raise BadInput(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not {what} here "
            f"({what}: {', '.join(available) or 'none'})",
            fix,
        )


def published_files(ws: Workspace, roles: list[str] | None = None) -> list[BundleFile]:
    """Current metadata of ``roles`` (default all), with the whole root history for root."""
    available = (["root"] if ws.root_versions() else []) + ws.published_roles()
    if not available:
        raise BadInput(
            "nothing is published in this workspace yet",
            "publish root first (ceremony publish root), or export proposals with --partial",
        )
    wanted = list(dict.fromkeys(roles or available))
    _unknown(wanted, available, "published", "name published roles, or leave ROLE out for all")
    files: list[BundleFile] = []
    for role in wanted:
        files += _root_files(ws) if role == "root" else _role_files(ws, role)
    return files


def _root_files(ws: Workspace) -> list[BundleFile]:
    files = [_read(ws, ws.published_path("root", v)) for v in ws.root_versions()]
    current = ws.published_path("root")
    return files + ([_read(ws, current)] if current.is_file() else [])


def _role_files(ws: Workspace, role: str) -> list[BundleFile]:
    current = _read(ws, ws.published_path(role))
    version = parse_metadata(current.data, current.name).signed.version
    numbered = ws.published_path(role, version)
    return [current] + ([_read(ws, numbered)] if numbered.is_file() else [])


def staged_files(ws: Workspace, roles: list[str] | None = None) -> list[BundleFile]:
    """Staged proposals with their signatures so far, refusing hand-edited ones."""
    available = ws.staged_roles()
    if not available:
        raise BadInput(
            "nothing is staged in this workspace",
            "stage a change first, or export without --partial",
        )
    wanted = list(dict.fromkeys(roles or available))
    _unknown(wanted, available, "staged", "name staged roles, or leave ROLE out for all")
    for role in wanted:
        ws.staged_payload(role)  # refuses a proposal changed since it was staged
    return [_read(ws, ws.staged_path(role)) for role in wanted]


def build_export(ws: Workspace, roles: list[str] | None = None, partial: bool = False) -> Bundle:
    """The bundle ``ceremony export`` writes: published metadata, or proposals with --partial."""
    files = staged_files(ws, roles) if partial else published_files(ws, roles)
    purpose = PARTIAL if partial else PUBLISH
    return Bundle(purpose, ws.config.repository, [*files, *transcript_files(ws)])


def build_keys_export(ws: Workspace) -> Bundle:
    """The public keys of this workspace, for another site or the online server."""
    paths = sorted(p for p in ws.keys_dir.glob("*.json") if p.is_file())
    if not paths:
        raise BadInput("there are no public keys in keys/", "generate or add keys first")
    return Bundle(KEYS, ws.config.repository, [_read(ws, p) for p in paths])


def file_rows(bundle: Bundle) -> list[dict[str, Any]]:
    """Name, length and SHA-256 of every file, as the transcript records them."""
    return [{"name": f.name, "length": f.length, "sha256": f.sha256} for f in bundle.files]


def record_export(
    ws: Workspace, bundle: Bundle, *, medium: str, destination: str, **details: Any
) -> None:
    """The transcript's record of what left the workspace, and where to."""
    ws.record(
        audit.EXPORT,
        None,
        purpose=bundle.purpose,
        medium=medium,
        destination=destination,
        bundle_sha256=bundle.digest(),
        files=file_rows(bundle),
        **details,
    )


def export_dir(ws: Workspace, bundle: Bundle, directory: str | Path) -> Path:
    """Write the bundle directory atomically, then record the export."""
    target = write_dir(bundle, directory)
    record_export(ws, bundle, medium="directory", destination=str(target))
    return target


# --------------------------------------------------------------------------
# Import: plan (checks only)


@dataclass
class RoleItem:
    """One incoming role file to merge, staging it first when not staged here."""

    role: str
    name: str
    data: bytes
    metadata: Metadata
    stage: bool
    base_version: int | None


@dataclass
class ImportPlan:
    """Everything an import will do, decided before anything is written."""

    bundle: Bundle
    source: str
    roles: list[RoleItem] = field(default_factory=list)
    keys: list[tuple[str, Key]] = field(default_factory=list)
    transcripts: list[BundleFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """What the import will do, in words, before anything is written."""
        bundle = self.bundle
        lines = [
            f"A {bundle.purpose} bundle for {visible(bundle.repository)} (made "
            f"{visible(bundle.created)}), {len(bundle.files)} file(s), from {visible(self.source)}",
            f"Bundle hash: {bundle.digest()[:16]}",
        ]
        for item in self.roles:
            how = "stage as a new proposal to review" if item.stage else "merge its signatures"
            signatures = len(item.metadata.signatures)
            lines.append(
                f"  {visible(item.role)} v{item.metadata.signed.version}: {how} "
                f"({signatures} signature(s) in the bundle, each checked)"
            )
        for name, key in self.keys:
            lines.append(f"  add public key of {visible(owner_of(key))} ({visible(name)})")
        for record in self.transcripts:
            lines.append(f"  keep the other site's record {visible(record.name)}")
        lines += [f"  note: {visible(note)}" for note in self.notes]
        if not (self.roles or self.keys or self.transcripts):
            lines.append("  nothing in it changes this workspace")
        return lines


def plan_import(ws: Workspace, bundle: Bundle, source: str = "") -> ImportPlan:
    """Check a bundle against this workspace; refuse (TransferError, BadInput) or plan."""
    check_repository(bundle, ws.config.repository)
    plan = ImportPlan(bundle, source)
    groups = _group(bundle, plan)
    if bundle.purpose == PARTIAL:
        _plan_partial(ws, groups.get("staged", []), plan)
    elif bundle.purpose == PUBLISH:
        _plan_publish(ws, groups.get("metadata", []), plan)
    else:
        plan.keys = [_parse_key(item) for item in groups.get("keys", [])]
    plan.transcripts = _new_transcripts(ws, groups.get("transcripts", []))
    plan.roles.sort(key=lambda item: _depth(ws, plan, item.role))
    return plan


_EXPECTED = {PARTIAL: "staged", PUBLISH: "metadata", KEYS: "keys"}


def _group(bundle: Bundle, plan: ImportPlan) -> dict[str, list[BundleFile]]:
    """Files by top directory; anything this purpose does not use is noted and left."""
    groups: dict[str, list[BundleFile]] = {}
    wanted = _EXPECTED[bundle.purpose]
    for item in bundle.files:
        parts = item.name.split("/")
        top = parts[0] if len(parts) == 2 else ""
        usable = top in (wanted, "transcripts") and parts[-1].endswith(
            ".jsonl" if top == "transcripts" else ".json"
        )
        if usable and not parts[-1].endswith(".state.json"):
            groups.setdefault(top, []).append(item)
        else:
            plan.notes.append(f"{item.name}: not used by a {bundle.purpose} bundle, left alone")
    return groups


def _incoming(item: BundleFile, role: str) -> Metadata:
    """A role file from the bundle, held to every rule a proposal made here is."""
    expected = "root" if role == "root" else None
    source = f"{visible(item.name)} in the bundle"
    metadata = parse_metadata(item.data, source, expected)
    if role != "root" and not isinstance(metadata.signed, Targets):
        raise TransferError(
            f"{source} holds {metadata.signed.type} metadata, not {visible(role)}",
            "export the bundle again with this tool",
        )
    try:
        if isinstance(metadata.signed, Root):
            check_root(metadata.signed)
            _check_uris(metadata.signed.keys.values(), source)
        else:
            check_targets(metadata.signed)
            if metadata.signed.delegations is not None:
                _check_uris(metadata.signed.delegations.keys.values(), source)
    except TransferError:
        raise
    except CeremonyError as error:
        raise TransferError(f"{source}: {error.problem}", error.fix) from None
    return metadata


def _check_uris(keys: Iterable[Key], source: str) -> None:
    """A key URI that does not parse would break status and signing later: refuse it now."""
    for key in keys:
        text = key.unrecognized_fields.get(URI_FIELD)
        if text is None:
            continue
        try:
            Pkcs11Uri.parse(text)
        except (CeremonyError, UnicodeDecodeError, ValueError):
            raise TransferError(
                f"{source}: key {key.keyid[:8]} carries a token location that is not a "
                f"pkcs11: URI ({visible(text)})",
                "do not use this bundle; export the proposal again at the other site",
            ) from None


def _plan_partial(ws: Workspace, items: list[BundleFile], plan: ImportPlan) -> None:
    if not items:
        raise TransferError(
            "this partial-signature bundle holds no staged metadata",
            "export it again with: ceremony export --partial",
        )
    for item in items:
        role = check_role_name(item.name.split("/")[1][: -len(".json")])
        _plan_role(ws, plan, role, item, _incoming(item, role))


def _published_version(ws: Workspace, role: str) -> int:
    if role == "root":
        versions = ws.root_versions()
        return versions[-1] if versions else 0
    published = ws.published(role)
    return published.signed.version if published is not None else 0


def _plan_role(
    ws: Workspace, plan: ImportPlan, role: str, item: BundleFile, metadata: Metadata
) -> None:
    """Merge into the proposal staged here, or stage it; refuse a different proposal."""
    version = metadata.signed.version
    published = _published_version(ws, role)
    if version <= published:
        _check_not_a_fork(ws, role, item, metadata)
        plan.notes.append(
            f"{visible(item.name)}: {visible(role)} v{version} is not newer than "
            f"v{published} published here, left alone"
        )
        return
    if metadata.signed.is_expired(datetime.now(UTC)):
        raise CheckFailed(
            f"{visible(item.name)} in the bundle is {visible(role)} v{version}, which expired "
            f"on {metadata.signed.expires:%Y-%m-%d}",
            "ask the other site for a proposal that has not expired",
        )
    staged = role in ws.staged_roles()
    if staged:
        _same_proposal(ws, role, item, metadata)
    else:
        _check_signable(ws, plan, role, metadata)
    plan.roles.append(RoleItem(role, item.name, item.data, metadata, not staged, published or None))


def _check_not_a_fork(ws: Workspace, role: str, item: BundleFile, metadata: Metadata) -> None:
    """An old version may arrive again; a different one under a published number is a fork."""
    version = metadata.signed.version
    ours = ws.published("root", version) if role == "root" else _published_at(ws, role, version)
    if ours is not None and payload_sha256(ours) != payload_sha256(metadata):
        raise CheckFailed(
            f"{visible(item.name)} in the bundle is a different {visible(role)} v{version} from "
            "the one published here: the repository has forked",
            "do not use this bundle: stop, and find out where this version came from",
        )


def _published_at(ws: Workspace, role: str, version: int) -> Metadata | None:
    numbered = ws.published(role, version)
    if numbered is not None:
        return numbered
    current = ws.published(role)
    if current is not None and current.signed.version == version:
        return current
    return None


def _same_proposal(ws: Workspace, role: str, item: BundleFile, metadata: Metadata) -> None:
    ours = payload_sha256(ws.staged(role))
    theirs = payload_sha256(metadata)
    if ours != theirs:
        raise TransferError(
            f"{item.name} in the bundle is a different proposal of {role} "
            f"(payload {theirs[:16]}...) from the one staged here ({ours[:16]}...)",
            "agree on one proposal: stage the same change at both sites, "
            "or carry this site's proposal to the other one with 'ceremony export --partial'",
        )


def _check_signable(ws: Workspace, plan: ImportPlan, role: str, metadata: Metadata) -> None:
    """A new proposal must have a delegator here (or arriving in the same bundle)."""
    if role in ("root", "targets"):
        signing.requirements(ws, role, metadata)
        return
    candidates = dict(signing.targets_candidates(ws))
    candidates.update({i.role: i.metadata.signed for i in plan.roles if i.role != "root"})
    if delegator_of(candidates, role) is None:
        raise TransferError(
            f"no targets role here or in the bundle delegates {role!r}",
            "import the delegating role first, or delegate it: ceremony targets delegate",
        )


def _plan_publish(ws: Workspace, items: list[BundleFile], plan: ImportPlan) -> None:
    newest: dict[str, tuple[BundleFile, Metadata]] = {}
    for item in items:
        role = signing.role_from_filename(Path(item.name))
        if role in ONLINE_ROLES:
            plan.notes.append(f"{item.name}: {role} is signed by the online server, left alone")
            continue
        check_role_name(role)
        metadata = _incoming(item, role)
        if role == "root":
            _check_root_history(ws, item, metadata, plan)
            continue
        _check_against_published(ws, role, item, metadata)
        best = newest.get(role)
        if best is None or metadata.signed.version > best[1].signed.version:
            newest[role] = (item, metadata)
    for role in sorted(newest, key=lambda r: (r != "targets", r)):
        item, metadata = newest[role]
        _plan_role(ws, plan, role, item, metadata)


def _check_root_history(
    ws: Workspace, item: BundleFile, metadata: Metadata, plan: ImportPlan
) -> None:
    """Roots travel from the ceremony outwards: an incoming one must match ours."""
    version = metadata.signed.version
    ours = ws.published_bytes("root", version)
    if ours is None:
        plan.notes.append(
            f"{visible(item.name)}: root v{version} is not published here; a root is "
            "published by a ceremony, not imported, so it was left alone"
        )
    elif ours != item.data:
        raise CheckFailed(
            f"{visible(item.name)} in the bundle is a different root v{version} from the one "
            "published here: the root of trust has forked",
            "do not use this bundle: stop, and find out where this root came from before "
            "going on",
        )
    else:
        plan.notes.append(f"{item.name}: root v{version} is already published here")


def _check_against_published(
    ws: Workspace, role: str, item: BundleFile, metadata: Metadata
) -> None:
    """A published version is immutable: the same version must be the same bytes."""
    version = metadata.signed.version
    ours = ws.published_bytes(role, version)
    if ours is None:
        current = ws.published(role)
        if current is not None and current.signed.version == version:
            ours = ws.published_bytes(role)
    if ours is not None and ours != item.data:
        raise CheckFailed(
            f"{visible(item.name)} in the bundle is a different {visible(role)} v{version} "
            "from the one published here",
            "do not use this bundle: a published version never changes; find out why",
        )


def _parse_key(item: BundleFile) -> tuple[str, Key]:
    """A public key from the bundle, held to the same rules as a key file."""
    try:
        return item.name, parse_key_bytes(item.data, f"{visible(item.name)} in the bundle")
    except CeremonyError as exc:
        raise TransferError(exc.problem, "export the keys again: ceremony export --keys") from None


def _new_transcripts(ws: Workspace, items: list[BundleFile]) -> list[BundleFile]:
    """The other site's records, unless ours holds them already (a record only grows)."""
    fresh = []
    for item in items:
        ours = ws.root / item.name
        if not (ours.is_file() and ours.read_bytes().startswith(item.data)):
            fresh.append(item)
    return fresh


def _depth(ws: Workspace, plan: ImportPlan, role: str) -> int:
    """Delegators before the roles they delegate, so each merge finds its keys."""
    if role == "root":
        return 0
    candidates = dict(signing.targets_candidates(ws))
    candidates.update({i.role: i.metadata.signed for i in plan.roles if i.role != "root"})
    depth, seen = 1, {role}
    while role != "targets":
        role = delegator_of(candidates, role) or "targets"
        if role in seen:
            break
        seen.add(role)
        depth += 1
    return depth


# --------------------------------------------------------------------------
# Import: apply (writes, then records)


@dataclass
class RoleResult:
    """What an import did to one role; invalid signatures make the import fail."""

    role: str
    version: int
    staged: bool
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """The outcome of an import, for the command line and the TUI to show."""

    purpose: str
    repository: str
    bundle_sha256: str
    source: str
    roles: list[RoleResult] = field(default_factory=list)
    keys_added: list[str] = field(default_factory=list)
    keys_present: list[str] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when a signature did not verify: the sender must sign again."""
        return any(result.invalid for result in self.roles)


def apply_import(ws: Workspace, plan: ImportPlan) -> ImportReport:
    """Carry out a plan from :func:`plan_import`, then record the import."""
    bundle = plan.bundle
    report = ImportReport(bundle.purpose, bundle.repository, bundle.digest(), plan.source)
    report.notes = list(plan.notes)
    report.roles = [_apply_role(ws, item) for item in plan.roles]
    for name, key in plan.keys:
        present = ws.key_path(key).exists()
        path = ws.add_key(key)
        shown = (
            f"{path.relative_to(ws.root).as_posix()} ({visible(owner_of(key))}, "
            f"from {visible(name)})"
        )
        (report.keys_present if present else report.keys_added).append(shown)
    report.transcripts = [_keep_transcript(ws, bundle, item) for item in plan.transcripts]
    ws.record(audit.IMPORT, None, **_import_details(report, bundle))
    return report


def import_bundle(ws: Workspace, bundle: Bundle, source: str = "") -> ImportReport:
    """Check, then act on, a bundle: nothing is written when a check fails."""
    return apply_import(ws, plan_import(ws, bundle, source))


def _apply_role(ws: Workspace, item: RoleItem) -> RoleResult:
    if item.stage:
        digest = ws.stage(item.role, Metadata(item.metadata.signed, {}), item.base_version)
        ws.record(
            audit.STAGED,
            role=item.role,
            version=item.metadata.signed.version,
            payload_sha256=digest,
            expires=item.metadata.signed.expires.isoformat(),
            source=f"import of {item.name}",
        )
    merge = signing.plan_merge_metadata(ws, item.role, item.metadata, item.name)
    outcome = signing.apply_merge(ws, merge)
    return RoleResult(
        item.role,
        item.metadata.signed.version,
        item.stage,
        [holder.describe() for holder in outcome.added],
        [holder.describe() for holder in outcome.already],
        list(outcome.unknown),
        list(outcome.invalid),
    )


def _keep_transcript(ws: Workspace, bundle: Bundle, item: BundleFile) -> str:
    relative = f"{IMPORTED_TRANSCRIPTS}/{bundle.digest()[:16]}/{Path(item.name).name}"
    target = ws.root / relative
    if not (target.is_file() and target.read_bytes() == item.data):
        write_atomic(target, item.data)
    return relative


def _import_details(report: ImportReport, bundle: Bundle) -> dict[str, Any]:
    return {
        "purpose": report.purpose,
        "source": report.source,
        "bundle_sha256": report.bundle_sha256,
        "created": bundle.created,
        "files": file_rows(bundle),
        "roles": [
            {
                "role": r.role,
                "version": r.version,
                "staged": r.staged,
                "added": len(r.added),
                "already": len(r.already),
                "unknown": r.unknown,
                "invalid": r.invalid,
            }
            for r in report.roles
        ],
        "keys_added": report.keys_added,
        "transcripts": report.transcripts,
    }
