"""The workspace on disk: published metadata, staged proposals, keys.

Layout (docs/design.md): ``ceremony.toml``, ``metadata/`` (what the online
server publishes; ``N.root.json`` for every root ever published and
``N.ROLE.json`` plus ``ROLE.json`` for targets roles), ``staged/`` (proposals
with the signatures gathered so far, and a small state file recording the
payload hash that was staged and the one that was reviewed), ``keys/``,
``transcripts/``, ``exports/``.

Every write is atomic; a published version is never overwritten; a staged
file is rewritten only with its payload unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, Signature
from tuf.api.metadata import Metadata, Root

from ceremony import __version__
from ceremony.config import CONFIG_NAME, Config, load_config
from ceremony.errors import BadInput, WorkspaceError
from ceremony.fsutil import write_atomic
from ceremony.keys import key_to_json, owner_of
from ceremony.metafile import (
    file_bytes,
    is_canonical_text,
    json_text,
    parse_metadata,
    payload_bytes,
    split_file,
)

SUBDIRS = ("metadata", "staged", "keys", "transcripts", "exports")
ROLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_role_name(role: str) -> str:
    """Role names become file names: refuse anything that could escape."""
    if not ROLE_NAME.match(role) or role.endswith(".json") or ".." in role:
        raise BadInput(
            f"{role!r} is not a usable role name",
            "use letters, digits, '-', '_' and '.', starting with a letter or digit",
        )
    if role in ("snapshot", "timestamp"):
        raise BadInput(
            f"{role} is an online role: the online server signs it, not the ceremony",
            "stage root, targets or an offline delegated role",
        )
    return role


@dataclass
class StagedPayload:
    """A staged role as signing needs it: the exact bytes and the signatures,
    read without parsing (or re-serialising) the payload."""

    role: str
    payload: bytes
    signatures: dict[str, Signature]
    digest: str
    signed_text: bytes

    def version(self) -> int:
        """The proposal's version, read without building the metadata."""
        return int(json.loads(self.signed_text)["version"])


@dataclass
class StagedState:
    """What was staged and what was reviewed, by payload hash.

    ``staged`` lists the payloads this tool staged for the role, newest
    last: the state file is written before the staged file, so a crash
    between the two leaves the older payload still recognised. Anything
    else in staged/ROLE.json was edited by hand.
    """

    staged: list[str]
    reviewed_sha256: str | None = None
    base_version: int | None = None

    @property
    def payload_sha256(self) -> str:
        return self.staged[-1]

    def to_json(self) -> bytes:
        return (json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n").encode()


class Workspace:
    """One repository's ceremony directory."""

    def __init__(self, root: Path, config: Config) -> None:
        self.root = Path(root)
        self.config = config
        self._recorder: Any = None

    # ------------------------------------------------------------------ open

    @classmethod
    def open(cls, root: Path) -> Workspace:
        config = load_config(Path(root))
        if config is None:
            raise WorkspaceError(
                f"{root} is not a ceremony workspace (no {CONFIG_NAME})",
                "create one with: ceremony root init ..., or point --workspace at it",
            )
        return cls(Path(root), config)

    @classmethod
    def create(cls, root: Path, config: Config | None = None) -> Workspace:
        """Create the layout where it does not exist; keep what does."""
        root = Path(root)
        existing = load_config(root)
        for name in SUBDIRS:
            (root / name).mkdir(parents=True, exist_ok=True)
        if existing is None:
            existing = config or Config(repository=root.resolve().name or "tuf-repository")
            write_atomic(root / CONFIG_NAME, existing.to_toml().encode())
        return cls(root, existing)

    def save_config(self) -> None:
        write_atomic(self.root / CONFIG_NAME, self.config.to_toml().encode())

    @property
    def metadata_dir(self) -> Path:
        return self.root / "metadata"

    @property
    def staged_dir(self) -> Path:
        return self.root / "staged"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    # --------------------------------------------------------- transcript

    def set_recorder(self, recorder: Any) -> None:
        """A callable(event, actor, **details) writing the ceremony record."""
        self._recorder = recorder

    def record(self, event: str, actor: str | None = None, **details: Any) -> None:
        """Append to the ceremony record, after the state it describes is safe."""
        if self._recorder is None:
            from ceremony.audit import Transcript

            transcript = Transcript.open_or_start(self.root, tool_version=__version__)
            self._recorder = transcript.record
        self._recorder(event, actor, **details)

    # ----------------------------------------------------------- published

    def root_versions(self) -> list[int]:
        versions = []
        for path in self.metadata_dir.glob("*.root.json"):
            prefix = path.name.split(".", 1)[0]
            if prefix.isdigit():
                versions.append(int(prefix))
        return sorted(versions)

    def published_path(self, role: str, version: int | None = None) -> Path:
        if version is None:
            return self.metadata_dir / f"{role}.json"
        return self.metadata_dir / f"{version}.{role}.json"

    def published_bytes(self, role: str, version: int | None = None) -> bytes | None:
        if role == "root" and version is None:
            versions = self.root_versions()
            if not versions:
                return None
            version = versions[-1]
        path = self.published_path(role, version)
        return path.read_bytes() if path.is_file() else None

    def published(self, role: str, version: int | None = None) -> Metadata | None:
        data = self.published_bytes(role, version)
        if data is None:
            return None
        path = self.published_path(role, version)
        expected = "root" if role == "root" else "targets"
        return parse_metadata(data, str(path), expected)

    def newest_root(self) -> Metadata[Root]:
        root = self.published("root")
        if root is None:
            raise WorkspaceError(
                "no root has been published in this workspace yet",
                "create one with: ceremony root init, then sign and publish it",
            )
        return root

    def published_roles(self) -> list[str]:
        """Targets roles with a current published file."""
        names = []
        for path in sorted(self.metadata_dir.glob("*.json")):
            stem = path.name[: -len(".json")]
            if "." in stem and stem.split(".", 1)[0].isdigit():
                continue
            if stem != "root":
                names.append(stem)
        return names

    # --------------------------------------------------------------- staged

    def staged_path(self, role: str) -> Path:
        return self.staged_dir / f"{check_role_name(role)}.json"

    def _state_path(self, role: str) -> Path:
        return self.staged_dir / f"{check_role_name(role)}.state.json"

    def staged_roles(self) -> list[str]:
        return sorted(
            p.name[: -len(".json")]
            for p in self.staged_dir.glob("*.json")
            if not p.name.endswith(".state.json")
        )

    def _staged_bytes(self, role: str) -> bytes:
        path = self.staged_path(role)
        if not path.is_file():
            staged = ", ".join(self.staged_roles()) or "none"
            raise BadInput(
                f"nothing is staged for role {role!r} (staged: {staged})",
                "stage it first (root rotate, targets delegate/bump), or check the name",
            )
        return path.read_bytes()

    def staged(self, role: str) -> Metadata:
        """The staged proposal, fully parsed and checked."""
        return self.staged_full(role)[0]

    def staged_full(self, role: str) -> tuple[Metadata, StagedPayload]:
        """The staged proposal parsed, and its signed bytes, from one read."""
        data = self._staged_bytes(role)
        path = self.staged_path(role)
        metadata = parse_metadata(data, str(path), "root" if role == "root" else "targets")
        payload = payload_bytes(metadata)
        self._check_unchanged(role, payload)
        split = split_file(data, str(path))
        text = split[1] if split is not None else json_text(metadata.signed.to_dict())
        digest = hashlib.sha256(payload).hexdigest()
        return metadata, StagedPayload(role, payload, dict(metadata.signatures), digest, text)

    def staged_payload(self, role: str) -> StagedPayload:
        """The staged proposal's signed bytes and signatures, fast when the
        file holds the canonical payload verbatim (most roles): the bytes are
        checked against the hashes this tool staged, so they are the payload
        it wrote and nothing else. Otherwise the file is parsed."""
        data = self._staged_bytes(role)
        split = split_file(data, str(self.staged_path(role)))
        if split is not None and is_canonical_text(split[1]):
            signatures, text = split
            self._check_unchanged(role, text)
            return StagedPayload(role, text, signatures, hashlib.sha256(text).hexdigest(), text)
        return self.staged_full(role)[1]

    def staged_state(self, role: str) -> StagedState:
        path = self._state_path(role)
        try:
            data = json.loads(path.read_bytes())
            return StagedState(**data)
        except (OSError, ValueError, TypeError):
            raise WorkspaceError(
                f"the state file of staged {role} ({path}) is missing or damaged",
                f"stage {role} again; its signatures cannot be trusted to match a review",
            ) from None

    def _check_unchanged(self, role: str, payload: bytes) -> None:
        state = self.staged_state(role)
        actual = hashlib.sha256(payload).hexdigest()
        if actual not in state.staged:
            raise WorkspaceError(
                f"staged {role} was changed after it was staged: its payload hash is "
                f"{actual[:16]}..., staged as {state.payload_sha256[:16]}...",
                f"do not edit staged files by hand; stage {role} again and review it",
            )

    def stage(self, role: str, metadata: Metadata, base_version: int | None) -> str:
        """Write a new proposal (replacing any older one); returns its hash."""
        digest = hashlib.sha256(payload_bytes(metadata)).hexdigest()
        state = StagedState([*self._current_payload(role), digest], None, base_version)
        write_atomic(self._state_path(role), state.to_json())
        text = json_text(metadata.signed.to_dict())
        write_atomic(self.staged_path(role), file_bytes(metadata.signatures, text))
        return digest

    def _current_payload(self, role: str) -> list[str]:
        """The hash of what is staged now, if the tool staged it."""
        if not self.staged_path(role).is_file() or not self._state_path(role).is_file():
            return []
        try:
            return [self.staged_payload(role).digest]
        except BadInput:
            return []

    def save_signatures(self, staged: StagedPayload) -> None:
        """Rewrite the staged file with more signatures, same payload."""
        self._check_unchanged(staged.role, staged.payload)
        data = file_bytes(staged.signatures, staged.signed_text)
        write_atomic(self.staged_path(staged.role), data)

    def mark_reviewed(self, role: str, digest: str) -> None:
        state = self.staged_state(role)
        state.reviewed_sha256 = digest
        write_atomic(self._state_path(role), state.to_json())

    def unstage(self, role: str) -> None:
        self.staged_path(role).unlink(missing_ok=True)
        self._state_path(role).unlink(missing_ok=True)

    # -------------------------------------------------------------- publish

    def write_published(
        self, role: str, metadata: Metadata, data: bytes | None = None
    ) -> list[Path]:
        """Write a complete version: immutable N.ROLE.json, then ROLE.json
        (a copy of the newest; for root, clients use the numbered files).
        ``data`` is the file as staged; by default it is built from
        ``metadata``.

        A numbered file with exactly these bytes is what a publish that was
        cut short left behind: it is finished, not refused."""
        if data is None:
            data = file_bytes(metadata.signatures, json_text(metadata.signed.to_dict()))
        version = metadata.signed.version
        numbered = self.published_path(role, version)
        if not (numbered.is_file() and numbered.read_bytes() == data):
            write_atomic(numbered, data, overwrite=False)
        latest = self.published_path(role)
        write_atomic(latest, data)
        return [numbered, latest]

    # ------------------------------------------------------------------ keys

    def add_key(self, key: Key) -> Path:
        """Keep a copy of a public key used in this repository."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", owner_of(key)).strip("-").lower() or "key"
        path = self.keys_dir / f"{slug}-{key.keyid[:12]}.json"
        if not path.exists():
            write_atomic(path, key_to_json(key))
        return path
