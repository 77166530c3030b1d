"""Plans: each change to the repository as a value, checked whole before it is made.

A plan is built (and refused, if it must be) without writing anything:
the new metadata, the changes it makes in review's words, the keys it
adds, the signatures it drops. What a front end shows for confirmation is
the plan itself; :func:`stage` then carries it out and records it.

Every edit of a role starts from the proposal already staged for it (so
several edits make one new version) or else from the newest published
version. Staging anew drops the signatures made on an older payload: the
plan says how many.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root, Targets

from ceremony import audit, profiles, roles
from ceremony.config import Config, load_config
from ceremony.errors import BadInput, WorkspaceError
from ceremony.metafile import payload_bytes
from ceremony.review import Change, describe, render
from ceremony.signing import find_delegator
from ceremony.text import visible
from ceremony.workspace import Workspace, check_role_name, check_stageable

ROOT_INIT = "root init"
ROTATION = "root rotation"
DELEGATION = "delegation"
REVOCATION = "revocation"
BUMP = "expiry bump"


@dataclass
class StagePlan:
    """A new version of one role, ready to be staged for review and signing."""

    kind: str
    role: str
    metadata: Metadata
    base_version: int | None
    changes: list[Change]
    keys: list[Key] = field(default_factory=list)
    dropped_signatures: int = 0
    config: Config | None = None
    create_workspace: bool = False

    @property
    def version(self) -> int:
        return int(self.metadata.signed.version)

    @property
    def payload_sha256(self) -> str:
        return hashlib.sha256(payload_bytes(self.metadata)).hexdigest()

    def summary(self) -> list[str]:
        """The plan in words: what will be staged and what it changes."""
        head = f"Stage {visible(self.role)} version {self.version} ({self.kind})"
        lines = [head, *render(self.changes)]
        if self.dropped_signatures:
            lines.append(
                f"{self.dropped_signatures} signature(s) on the proposal staged now will be "
                "dropped: the payload changes, so they must be made again."
            )
        return lines


@dataclass
class Staged:
    """What staging a plan did."""

    role: str
    version: int
    payload_sha256: str
    dropped_signatures: int


def _signatures_now(ws: Workspace, role: str) -> int:
    if role in ws.staged_roles():
        return len(ws.staged(role).signatures)
    return 0


# --------------------------------------------------------------------------
# Root


def plan_root_init(
    path: Path,
    plan: roles.RootPlan,
    expiry_days: dict[str, int],
    repository: str | None,
    profile: str | None = None,
) -> StagePlan:
    """Root version 1 for a workspace that has no published root yet."""
    existing = load_config(Path(path))
    config = copy.deepcopy(existing) if existing is not None else None
    if config is None:
        config = Config(repository=repository or Path(path).resolve().name or "tuf-repository")
    if repository is not None:
        config.repository = repository
    config.profile = profiles.check_profile(profile or config.profile)
    for role, days in expiry_days.items():
        roles.expiry(days)  # refuses impossible values before anything is written
        config.expiry_days[role] = days
    plan.root_expiry_days = config.expiry_days["root"]
    local, plan.add = plan.add, profiles.for_root_plan(plan.add, config.profile)
    metadata = roles.init_root(plan)
    _name_attestations(Path(path) / "keys", metadata.signed)
    profiles.check_root(metadata.signed, config.profile)
    if existing is not None and Workspace(Path(path), existing).root_versions():
        raise WorkspaceError(
            f"{path} already has a published root",
            "change it with: ceremony root rotate",
        )
    dropped = 0
    if existing is not None:
        dropped = _signatures_now(Workspace(Path(path), existing), "root")
    return StagePlan(
        ROOT_INIT,
        "root",
        metadata,
        None,
        describe(metadata, None),
        [key for _role, key in local],
        dropped,
        config,
        create_workspace=existing is None,
    )


def plan_rotation(ws: Workspace, plan: roles.RootPlan) -> StagePlan:
    """Root N+1 (or an amended staged N+1) from the published root N."""
    published = ws.newest_root()
    base: Root = published.signed
    if "root" in ws.staged_roles():
        base = ws.staged("root").signed
    local, plan.add = plan.add, profiles.for_root_plan(plan.add, ws.config.profile)
    metadata = roles.rotate_root(base, plan)
    metadata.signed.version = published.signed.version + 1
    _name_attestations(ws.keys_dir, metadata.signed)
    profiles.check_root(metadata.signed, ws.config.profile)
    return StagePlan(
        ROTATION,
        "root",
        metadata,
        published.signed.version,
        describe(metadata, published),
        [key for _role, key in local],
        _signatures_now(ws, "root"),
    )


def _name_attestations(keys_dir: Path, root: Root) -> None:
    """Put the kept attestations of the root's keys at the top of its ``signed``
    (never on keys, where RSTUF would drop them and break the signatures)."""
    from ceremony import attest

    kept = attest.kept_for(keys_dir, list(root.keys))
    if kept:
        root.unrecognized_fields[attest.ATTESTATIONS_FIELD] = kept
    else:
        root.unrecognized_fields.pop(attest.ATTESTATIONS_FIELD, None)


# --------------------------------------------------------------------------
# Targets roles


def _targets_base(
    ws: Workspace, role: str, expiry_days: int | None
) -> tuple[Metadata[Targets], Metadata | None]:
    """What an edit of ``role`` starts from, and the version it replaces."""
    check_stageable(role)
    published = ws.published(role)
    if role in ws.staged_roles():
        return roles.next_version(ws.staged(role), expiry_days, bump=False), published
    days = expiry_days or ws.config.expiry_days.get(role, ws.config.expiry_days["targets"])
    if published is not None:
        return roles.next_version(published, days, bump=True), published
    _require_delegated(ws, role)
    return roles.new_targets(days), None


def _require_delegated(ws: Workspace, role: str) -> None:
    if role == "targets":
        return
    if find_delegator(ws, role) is None:
        raise BadInput(
            f"no targets role delegates {visible(role)!r}",
            "delegate it first with: ceremony targets delegate",
        )


def _targets_plan(
    ws: Workspace,
    kind: str,
    role: str,
    metadata: Metadata[Targets],
    published: Metadata | None,
    keys: list[Key] | None = None,
    config: Config | None = None,
) -> StagePlan:
    roles.check_targets(metadata.signed)
    base = published.signed.version if published is not None else None
    return StagePlan(
        kind,
        role,
        metadata,
        base,
        describe(metadata, published),
        keys or [],
        _signatures_now(ws, role),
        config,
    )


def _check_name_free(ws: Workspace, name: str, delegator: str) -> None:
    """A new delegation may not take the name of another role here, in any case."""
    check_role_name(name, delegated=True)
    known = set(ws.published_roles()) | set(ws.staged_roles())
    clash = [r for r in known if r.lower() == name.lower() and r != name]
    if clash:
        raise BadInput(
            f"role {visible(name)!r} differs only in case from {visible(clash[0])!r}: on a "
            "USB stick they would be one file",
            "choose a name that differs in more than case",
        )
    found = find_delegator(ws, name)
    if found is not None and found[0] != delegator:
        raise BadInput(
            f"{visible(name)!r} is already delegated by {visible(found[0])}",
            f"change it there (--from {visible(found[0])}), or choose another name",
        )


def plan_delegation(
    ws: Workspace, plan: roles.DelegationPlan, delegator: str, expiry_days: int | None
) -> StagePlan:
    """A new version of ``delegator`` that adds or changes a delegation."""
    _check_name_free(ws, plan.name, delegator)
    if expiry_days is not None:
        roles.expiry(expiry_days)
    metadata, published = _targets_base(ws, delegator, None)
    local, plan.keys = plan.keys, [profiles.for_metadata(k, ws.config.profile) for k in plan.keys]
    roles.delegate(metadata.signed, plan)
    config = None
    if expiry_days is not None:
        config = copy.deepcopy(ws.config)
        config.expiry_days[plan.name] = expiry_days
    return _targets_plan(ws, DELEGATION, delegator, metadata, published, list(local), config)


def plan_revoke(ws: Workspace, name: str, delegator: str) -> StagePlan:
    metadata, published = _targets_base(ws, delegator, None)
    roles.revoke(metadata.signed, name)
    return _targets_plan(ws, REVOCATION, delegator, metadata, published)


def plan_bump(ws: Workspace, role: str, expiry_days: int | None) -> StagePlan:
    """``role`` again as a new version with a fresh expiry."""
    days = expiry_days or ws.config.expiry_days.get(role, ws.config.expiry_days["targets"])
    roles.expiry(days)
    metadata, published = _targets_base(ws, role, days)
    return _targets_plan(ws, BUMP, role, metadata, published)


# --------------------------------------------------------------------------
# Carrying a plan out


def stage(ws: Workspace, plan: StagePlan) -> Staged:
    """Keep the plan's keys, settings and proposal; record what it changes."""
    with ws.writing():
        for key in plan.keys:
            ws.add_key(key)
        if plan.config is not None and not plan.create_workspace:
            ws.config = plan.config
            ws.save_config()
        digest = ws.stage(plan.role, plan.metadata, plan.base_version)
    ws.record(
        audit.STAGED,
        role=plan.role,
        version=plan.version,
        payload_sha256=digest,
        expires=plan.metadata.signed.expires.isoformat(),
        kind=plan.kind,
        changes=render(plan.changes),
        dropped_signatures=plan.dropped_signatures,
    )
    return Staged(plan.role, plan.version, digest, plan.dropped_signatures)
