"""An existing repository's metadata as a new workspace's starting point.

A project that made its root and targets with python-tuf's repository
tools, tuf-on-ci or another TUF tool moves its ceremonies here by importing
what it published: every root version from 1 (each verified by the one
before it and by itself, no gaps, no two different files for one version),
top-level targets and the offline delegated roles below it, each verified
by its delegator. Snapshot and timestamp stay with the online server.

Layouts read: a directory of ``N.root.json`` files (python-tuf, consistent
snapshots), tuf-on-ci's ``root_history/N.root.json`` beside ``root.json``,
and targets roles as ``ROLE.json`` or ``N.ROLE.json`` (the newest wins).
The plan is made and checked whole before the workspace is created, and it
is written through ``Workspace``, whose writes never overwrite a published
version, so an import into a workspace that already has a root is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root, Targets

from ceremony import audit, profiles
from ceremony.config import Config, load_config
from ceremony.errors import BadInput, CheckFailed, WorkspaceError
from ceremony.fsutil import read_bounded
from ceremony.metafile import parse_metadata, payload_bytes
from ceremony.workspace import Recorder, Workspace, check_role_name

FILE_LIMIT = 64 * 1024 * 1024
NUMBERED = re.compile(r"^([1-9][0-9]{0,9})\.(.+)\.json$")
ONLINE = ("snapshot", "timestamp")


@dataclass
class Loaded:
    """One metadata file: its exact bytes (kept verbatim) and its parse."""

    name: str
    data: bytes
    metadata: Metadata


@dataclass
class RepoPlan:
    """What an import will write, every check already passed."""

    source: Path
    roots: list[Loaded]
    targets: list[tuple[str, Loaded]]
    keys: list[Key]
    profile: str
    notes: list[str] = field(default_factory=list)

    @property
    def newest_root(self) -> Root:
        return self.roots[-1].metadata.signed


def _metadata_dir(source: Path) -> Path:
    source = Path(source)
    if (source / "metadata").is_dir() and not any(source.glob("*.root.json")):
        source = source / "metadata"
    if not source.is_dir():
        raise BadInput(f"{source} is not a directory", "give the repository's metadata directory")
    return source


def _read(path: Path, role: str, kind: str) -> Loaded:
    data = read_bounded(path, FILE_LIMIT, f"{role} metadata")
    return Loaded(path.name, data, parse_metadata(data, str(path), kind))


# --------------------------------------------------------------------------
# Roots


def _root_files(directory: Path) -> dict[int, list[Path]]:
    """Every file that claims to be a numbered root, by version."""
    found: dict[int, list[Path]] = {}
    for place in (directory, directory / "root_history"):
        if not place.is_dir():
            continue
        for path in sorted(place.iterdir()):
            match = NUMBERED.match(path.name)
            if match and match.group(2) == "root":
                found.setdefault(int(match.group(1)), []).append(path)
    return found


def _one_per_version(files: dict[int, list[Path]]) -> dict[int, Loaded]:
    roots: dict[int, Loaded] = {}
    for version, paths in sorted(files.items()):
        loaded = [_read(p, "root", "root") for p in paths]
        if len({item.data for item in loaded}) > 1:
            names = " and ".join(str(p) for p in paths)
            raise CheckFailed(
                f"two different files claim root version {version}: {names}",
                "the repository's root history forked; find out which one clients trust",
            )
        roots[version] = loaded[0]
        if loaded[0].metadata.signed.version != version:
            raise CheckFailed(
                f"{paths[0]} holds root version {loaded[0].metadata.signed.version}",
                "the file names and the versions inside must agree",
            )
    return roots


def _root_history(directory: Path) -> list[Loaded]:
    roots = _one_per_version(_root_files(directory))
    current = directory / "root.json"
    if not roots and current.is_file():
        single = _read(current, "root", "root")
        roots[single.metadata.signed.version] = single
    if not roots:
        raise BadInput(f"{directory} holds no root metadata", "give a TUF metadata directory")
    versions = sorted(roots)
    missing = sorted(set(range(1, versions[-1] + 1)) - set(versions))
    if missing:
        shown = ", ".join(str(v) for v in missing[:10])
        raise CheckFailed(
            f"the root history in {directory} has gaps: version(s) {shown} missing",
            "every root from version 1 is needed: a client trusting an old root walks them all",
        )
    history = [roots[v] for v in versions]
    _check_chain(history)
    if current.is_file() and current.read_bytes() != history[-1].data:
        newest = _read(current, "root", "root").metadata.signed.version
        raise CheckFailed(
            f"{current} (version {newest}) is not a copy of the newest numbered root "
            f"(version {versions[-1]})",
            "the repository is half-way through a change; import it once it is consistent",
        )
    return history


def _check_chain(history: list[Loaded]) -> None:
    previous: Root | None = None
    for item in history:
        root = item.metadata.signed
        result = root.get_root_verification_result(
            previous, payload_bytes(item.metadata), item.metadata.signatures
        )
        if not result.verified:
            which = "its own keys" if result.first.verified else f"root v{root.version - 1}'s keys"
            raise CheckFailed(
                f"root version {root.version} ({item.name}) is not signed by a threshold of "
                f"{which}",
                "the root history is broken; only a history that clients accept can be imported",
            )
        previous = root


# --------------------------------------------------------------------------
# Targets roles


def _listing(directory: Path) -> dict[str, list[tuple[int, str]]]:
    """Numbered files by role name, from one directory listing."""
    numbered: dict[str, list[tuple[int, str]]] = {}
    for path in directory.iterdir():
        match = NUMBERED.match(path.name)
        if match:
            numbered.setdefault(match.group(2), []).append((int(match.group(1)), path.name))
    return numbered


def _newest(directory: Path, role: str, listing: dict[str, list[tuple[int, str]]]) -> Loaded | None:
    check_role_name(role)
    numbered = [(version, directory / name) for version, name in listing.get(role, [])]
    plain = directory / f"{role}.json"
    if numbered:
        version, path = max(numbered)
        loaded = _read(path, role, "targets")
        if loaded.metadata.signed.version != version:
            raise CheckFailed(
                f"{path} holds {role} version {loaded.metadata.signed.version}",
                "import the repository once its file names match their versions",
            )
        if plain.is_file() and plain.read_bytes() != loaded.data:
            raise CheckFailed(
                f"{plain} is not a copy of the newest numbered {role} ({path.name})",
                "import the repository once it is consistent",
            )
        return loaded
    return _read(plain, role, "targets") if plain.is_file() else None


def _verify_role(delegator: Root | Targets, role: str, loaded: Loaded, by: str) -> None:
    result = delegator.get_verification_result(
        role, payload_bytes(loaded.metadata), loaded.metadata.signatures
    )
    if not result.verified:
        raise CheckFailed(
            f"{role} ({loaded.name}) is not signed by a threshold of the keys {by} names for it",
            "import only metadata that clients accept",
        )


def _targets_tree(directory: Path, root: Root, notes: list[str]) -> list[tuple[str, Loaded]]:
    listing = _listing(directory)
    top = _newest(directory, "targets", listing)
    if top is None:
        notes.append("no targets metadata: stage one with ceremony targets bump")
        return []
    _verify_role(root, "targets", top, "root")
    found = [("targets", top)]
    queue: list[tuple[str, Targets]] = [("targets", top.metadata.signed)]
    seen = {"targets"}
    while queue:
        parent, delegator = queue.pop(0)
        for name in _delegated_names(delegator):
            if name in seen:
                continue
            seen.add(name)
            loaded = _newest(directory, name, listing)
            if loaded is None:
                continue
            _verify_role(delegator, name, loaded, parent)
            found.append((name, loaded))
            queue.append((name, loaded.metadata.signed))
    return found


def _delegated_names(targets: Targets) -> list[str]:
    delegations = targets.delegations
    if delegations is None:
        return []
    if delegations.succinct_roles is not None:
        return list(delegations.succinct_roles.get_roles())
    return list(delegations.roles or {})


# --------------------------------------------------------------------------
# Keys and profile


def _keys(roots: list[Loaded], targets: list[tuple[str, Loaded]]) -> list[Key]:
    keys: dict[str, Key] = dict(roots[-1].metadata.signed.keys)
    for _name, loaded in targets:
        delegations = loaded.metadata.signed.delegations
        if delegations is not None:
            keys.update(delegations.keys)
    for keyid, key in keys.items():
        if "private" in key.keyval or "private" in key.unrecognized_fields:
            raise BadInput(
                f"key {keyid[:8]} in the repository carries private key material",
                "that key is compromised: rotate it out before moving the repository here",
            )
    return [keys[k] for k in sorted(keys)]


def detect_profile(keys: list[Key]) -> str:
    """The profile whose owner field the keys use (plain when none does)."""
    for profile in (profiles.RSTUF, profiles.TUF_ON_CI):
        if any(profiles.OWNER_FIELD_OF[profile] in k.unrecognized_fields for k in keys):
            return profile
    return profiles.PLAIN


def plan_import(source: Path, profile: str | None = None, now: datetime | None = None) -> RepoPlan:
    """Read and check everything; write nothing."""
    directory = _metadata_dir(source)
    roots = _root_history(directory)
    notes: list[str] = []
    newest = roots[-1].metadata.signed
    if newest.is_expired(now or datetime.now(UTC)):
        notes.append(
            f"root version {newest.version} has expired: rotate it first (ceremony root rotate)"
        )
    targets = _targets_tree(directory, newest, notes)
    keys = _keys(roots, targets)
    chosen = profiles.check_profile(profile) if profile else detect_profile(keys)
    if any((directory / f"{role}.json").is_file() for role in ONLINE):
        notes.append("snapshot and timestamp were left out: the online server keeps them")
    return RepoPlan(Path(source), roots, targets, keys, chosen, notes)


def check_destination(path: Path) -> None:
    """Refuse a workspace that already has a history, before the record opens."""
    existing = load_config(Path(path))
    if existing is not None and Workspace(Path(path), existing).root_versions():
        raise WorkspaceError(
            f"{path} already has a published root: an import would mix two histories",
            "import into a new, empty workspace folder",
        )


def apply_import(
    path: Path, plan: RepoPlan, recorder: Recorder, repository: str | None = None
) -> Workspace:
    """Create the workspace and write the plan, verbatim, through Workspace."""
    check_destination(path)
    existing = load_config(Path(path))
    name = repository or Path(path).resolve().name or "tuf-repository"
    config = existing or Config(repository=name, profile=plan.profile)
    ws = Workspace.create(Path(path), config, recorder)
    with ws.writing():
        for item in plan.roots:
            ws.write_published("root", item.metadata, item.data)
        for role, item in plan.targets:
            ws.write_published(role, item.metadata, item.data)
        for key in plan.keys:
            ws.add_key(key)
    ws.record(audit.IMPORT, None, **record_details(plan))
    return ws


def record_details(plan: RepoPlan) -> dict[str, Any]:
    return {
        "purpose": "repository",
        "source": str(plan.source),
        "profile": plan.profile,
        "root_versions": [item.metadata.signed.version for item in plan.roots],
        "roles": {role: item.metadata.signed.version for role, item in plan.targets},
        "keys": len(plan.keys),
    }
