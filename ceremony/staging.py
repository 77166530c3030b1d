"""Stage new versions: the commands that propose a change to a role.

Each function loads what the change starts from (a staged proposal of the
same role if one exists, so several edits make one version; otherwise the
newest published version), applies ``roles``, stages the result and
records it. Staging anew drops signatures made on an older payload: the
caller says so to the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuf.api.metadata import Metadata

from ceremony import audit, profiles, roles
from ceremony.audit import Transcript
from ceremony.config import Config, load_config
from ceremony.errors import BadInput, WorkspaceError
from ceremony.workspace import Workspace


@dataclass
class Staged:
    role: str
    version: int
    payload_sha256: str
    dropped_signatures: int


def _stage(ws: Workspace, role: str, metadata: Metadata, base: int | None, dropped: int) -> Staged:
    digest = ws.stage(role, metadata, base)
    ws.record(
        audit.STAGED,
        role=role,
        version=metadata.signed.version,
        payload_sha256=digest,
        expires=metadata.signed.expires.isoformat(),
    )
    return Staged(role, metadata.signed.version, digest, dropped)


def _existing_signatures(ws: Workspace, role: str) -> int:
    if role in ws.staged_roles():
        return len(ws.staged(role).signatures)
    return 0


# --------------------------------------------------------------------------
# Root


def init_root(
    path: Path,
    plan: roles.RootPlan,
    expiry_days: dict[str, int],
    repository: str | None,
    before_write: Callable[[], Transcript] | None = None,
    profile: str | None = None,
) -> tuple[Workspace, Staged]:
    """Stage root version 1, creating the workspace if needed.

    The root is built (and refused, if it must be) before anything is
    written, so a refused init leaves no workspace behind.
    """
    existing = load_config(Path(path))
    config = existing or Config(
        repository=repository or Path(path).resolve().name or "tuf-repository"
    )
    config.expiry_days.update(expiry_days)
    config.profile = profiles.check_profile(profile or config.profile)
    plan.root_expiry_days = config.expiry_days["root"]
    local, plan.add = plan.add, profiles.for_root_plan(plan.add, config.profile)
    metadata = roles.init_root(plan)
    profiles.check_root(metadata.signed, config.profile)
    if existing is not None and Workspace(Path(path), existing).root_versions():
        raise WorkspaceError(
            f"{path} already has a published root",
            "change it with: ceremony root rotate",
        )
    transcript = before_write() if before_write else None
    ws = Workspace.create(Path(path), config)
    if transcript is not None:
        ws.set_recorder(transcript.record)
    for _role, key in local:
        ws.add_key(key)
    return ws, _stage(ws, "root", metadata, None, _existing_signatures(ws, "root"))


def rotate_root(ws: Workspace, plan: roles.RootPlan) -> Staged:
    """Stage root N+1 (or amend the staged N+1) from the published root N."""
    published = ws.newest_root()
    base = published.signed
    if "root" in ws.staged_roles():
        base = ws.staged("root").signed
    local, plan.add = plan.add, profiles.for_root_plan(plan.add, ws.config.profile)
    metadata = roles.rotate_root(base, plan)
    metadata.signed.version = published.signed.version + 1
    profiles.check_root(metadata.signed, ws.config.profile)
    for _role, key in local:
        ws.add_key(key)
    return _stage(ws, "root", metadata, published.signed.version, _existing_signatures(ws, "root"))


# --------------------------------------------------------------------------
# Targets roles


def _targets_base(ws: Workspace, role: str, expiry_days: int | None) -> tuple[Metadata, int | None]:
    """What an edit of ``role`` starts from, and the published version."""
    published = ws.published(role)
    base_version = published.signed.version if published is not None else None
    if role in ws.staged_roles():
        return roles.next_version(ws.staged(role), expiry_days, bump=False), base_version
    days = expiry_days or ws.config.expiry_days.get(role, ws.config.expiry_days["targets"])
    if published is not None:
        return roles.next_version(published, days, bump=True), base_version
    _require_delegated(ws, role)
    return roles.new_targets(days), None


def _require_delegated(ws: Workspace, role: str) -> None:
    if role == "targets":
        return
    from ceremony.signing import find_delegator

    if find_delegator(ws, role) is None:
        raise BadInput(
            f"no targets role delegates {role!r}",
            "delegate it first with: ceremony targets delegate",
        )


def delegate(
    ws: Workspace, plan: roles.DelegationPlan, delegator: str, expiry_days: int | None
) -> Staged:
    metadata, base = _targets_base(ws, delegator, None)
    local, plan.keys = plan.keys, [profiles.for_metadata(k, ws.config.profile) for k in plan.keys]
    roles.delegate(metadata.signed, plan)
    for key in local:
        ws.add_key(key)
    staged = _stage(ws, delegator, metadata, base, _existing_signatures(ws, delegator))
    if expiry_days is not None:
        ws.config.expiry_days[plan.name] = expiry_days
        ws.save_config()
    return staged


def revoke(ws: Workspace, name: str, delegator: str) -> Staged:
    metadata, base = _targets_base(ws, delegator, None)
    roles.revoke(metadata.signed, name)
    return _stage(ws, delegator, metadata, base, _existing_signatures(ws, delegator))


def bump(ws: Workspace, role: str, expiry_days: int | None) -> Staged:
    """Re-sign ``role`` as a new version with a fresh expiry."""
    days = expiry_days or ws.config.expiry_days.get(role, ws.config.expiry_days["targets"])
    metadata, base = _targets_base(ws, role, days)
    return _stage(ws, role, metadata, base, _existing_signatures(ws, role))
