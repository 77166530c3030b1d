"""The workspace on disk: published metadata, staged proposals, keys.

Layout (docs/design.md): ``ceremony.toml``, ``metadata/`` (what the online
server publishes; ``N.root.json`` for every root ever published and
``N.ROLE.json`` plus ``ROLE.json`` for targets roles), ``staged/`` (proposals
with the signatures gathered so far, and a small state file recording the
payload hash that was staged and the one that was reviewed), ``keys/``,
``transcripts/``, ``exports/``.

Every write is atomic; a published version is never overwritten; a staged
file is rewritten only with its payload unchanged. Every write needs an
open ceremony record (the session sets it), and happens under the
workspace lock, so two commands at once (two holders signing at two
terminals) never lose each other's signatures: a signature is added to
what is on disk at that moment, not to what was read minutes before.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, Signature
from tuf.api.metadata import Metadata, Root, Signed

from ceremony.config import CONFIG_NAME, Config, load_config
from ceremony.errors import (
    BadInput,
    NoRecord,
    NotAWorkspace,
    UnsafeName,
    WorkspaceBusy,
    WorkspaceError,
)
from ceremony.fsutil import read_bounded, write_atomic
from ceremony.keys import key_to_json, owner_of
from ceremony.metafile import (
    file_bytes,
    is_canonical_text,
    json_text,
    parse_metadata,
    payload_bytes,
    read_signed_text,
    split_file,
)
from ceremony.text import visible

SUBDIRS = ("metadata", "staged", "keys", "transcripts", "exports")
TOP_LEVEL_ROLES = ("root", "targets", "snapshot", "timestamp")
ONLINE_ROLES = ("snapshot", "timestamp")
MAX_METADATA_FILE = 512 * 1024 * 1024
MAX_STATE_FILE = 1024 * 1024
LOCK_NAME = ".ceremony.lock"
LOCK_WAIT_SECONDS = 60.0

Recorder = Callable[..., Any]
"""Writes one ceremony record: recorder(event, actor, **details)."""

# Letters, digits, '-' and '_', in dot-separated parts; starting with a
# letter or digit.
_ROLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")
_VERSIONED = re.compile(r"^[0-9]+\.")
# The last part of a name that would collide with our own files.
_RESERVED_SUFFIXES = frozenset({"json", "state", "tmp", "lock", "partial", "jsonl"})
# Names FAT and NTFS sticks cannot hold (a workspace travels on them).
_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
MAX_ROLE_NAME = 128


def check_role_name(role: object, *, delegated: bool = False) -> str:
    """Role names become file names: refuse anything that could escape or collide.

    Refused: path separators and anything but letters, digits, '-', '_'
    and single dots; a leading ``N.`` (``3.root`` would write into the root
    chain, ``1.targets`` over a published version); a last part that is one
    of our own suffixes (``x.state`` is the state file of ``x``); device
    names; and, for delegated roles, the top-level role names in any case.
    """
    text = role if isinstance(role, str) else repr(role)
    shown = visible(text)
    rule = "use letters, digits, '-', '_' and single dots, starting with a letter or digit"
    if not isinstance(role, str) or not 1 <= len(role) <= MAX_ROLE_NAME:
        raise UnsafeName(f"{shown!r} is not a usable role name (1 to 128 characters)", rule)
    if not _ROLE_NAME.match(role):
        raise UnsafeName(f"{shown!r} is not a usable role name", rule)
    if _VERSIONED.match(role):
        raise UnsafeName(
            f"{shown!r} is not a usable role name: it would collide with the versioned "
            "files of another role (N.ROLE.json)",
            "do not start a role name with a number and a dot",
        )
    if "." in role and role.rsplit(".", 1)[1].lower() in _RESERVED_SUFFIXES:
        raise UnsafeName(
            f"{shown!r} is not a usable role name: its ending collides with this tool's files",
            "choose a name that does not end in .json, .state, .tmp, .lock or .partial",
        )
    if role.split(".")[0].lower() in _DEVICE_NAMES:
        raise UnsafeName(
            f"{shown!r} is not a usable role name: removable media cannot hold that file name",
            "choose another name",
        )
    if delegated and role.lower() in TOP_LEVEL_ROLES:
        raise UnsafeName(
            f"{shown!r} is a top-level role name and cannot be delegated",
            "choose another name for the delegated role",
        )
    return role


def check_stageable(role: str) -> str:
    """Only offline roles are staged here: the online server signs the others."""
    check_role_name(role)
    if role in ONLINE_ROLES:
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
        return int(self.shell().version)

    def shell(self) -> Signed:
        """The proposal's signed fields as python-tuf builds them, but for
        the target entries: status and signing read a version, an expiry and
        a delegator's keys, never the entries of a large role. Read from the
        exact bytes (``metafile.read_signed_text``), else parsed whole."""
        kind = "root" if self.role == "root" else "targets"
        text = read_signed_text(self.signed_text, f"staged {self.role}", kind)
        if text is not None:
            return text.signed
        data = file_bytes(self.signatures, self.signed_text)
        return parse_metadata(data, f"staged {self.role}", kind).signed


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


class _Lock:
    """The workspace lock: fcntl on a file, re-entrant within the process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def held(self, on_wait: Callable[[str], None] | None) -> Iterator[None]:
        with self._local:
            if self._depth == 0:
                self._acquire(on_wait)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self, on_wait: Callable[[str], None] | None) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise WorkspaceError(
                f"cannot open the workspace lock {self.path}: {error.strerror}",
                "check that the workspace medium is mounted and writable",
            ) from None
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if not told and on_wait is not None:
                on_wait("another ceremony command is writing to this workspace; waiting for it")
                told = True
            if time.monotonic() > deadline:
                os.close(fd)
                raise WorkspaceBusy(
                    f"another ceremony command has held the workspace lock ({self.path}) "
                    f"for more than {LOCK_WAIT_SECONDS:.0f} seconds",
                    "let the other command finish (or stop it), then run this one again",
                )
            time.sleep(0.05)
        self._fd = fd

    def _release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class Workspace:
    """One repository's ceremony directory."""

    def __init__(self, root: Path, config: Config) -> None:
        self.root = Path(root)
        self.config = config
        self._recorder: Recorder | None = None
        self._lock = _Lock(self.root / LOCK_NAME)
        self.on_wait: Callable[[str], None] | None = None

    # ------------------------------------------------------------------ open

    @classmethod
    def open(cls, root: Path) -> Workspace:
        config = load_config(Path(root))
        if config is None:
            raise NotAWorkspace(
                f"{root} is not a ceremony workspace (it has no {CONFIG_NAME})",
                "check the --workspace path (a typo?); a new workspace is created by "
                "'ceremony audit start --new-workspace' or 'ceremony root init'",
            )
        return cls(Path(root), config)

    @classmethod
    def create(cls, root: Path, config: Config, recorder: Recorder) -> Workspace:
        """Create the layout where it does not exist; keep what does."""
        root = Path(root)
        existing = load_config(root)
        for name in SUBDIRS:
            (root / name).mkdir(parents=True, exist_ok=True)
        ws = cls(root, existing or config)
        ws.set_recorder(recorder)
        if existing is None:
            ws.save_config()
        return ws

    def save_config(self) -> None:
        with self.writing():
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

    # ------------------------------------------------- record and lock

    def set_recorder(self, recorder: Recorder | None) -> None:
        """A callable(event, actor, **details) writing the ceremony record."""
        self._recorder = recorder

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def record(self, event: str, actor: str | None = None, **details: Any) -> None:
        """Append to the ceremony record, after the state it describes is safe."""
        if self._recorder is None:
            raise NoRecord(
                "no ceremony record is open for this change",
                "start one with: ceremony audit start --title ... --operator NAME",
            )
        self._recorder(event, actor, **details)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The lock, for a change that the open record will describe."""
        if self._recorder is None:
            raise NoRecord(
                "no ceremony record is open, so nothing may be written to the workspace",
                "start one with: ceremony audit start --title ... --operator NAME",
            )
        with self._lock.held(self.on_wait):
            yield

    # ----------------------------------------------------------- published

    def root_versions(self) -> list[int]:
        versions = []
        for path in self.metadata_dir.glob("*.root.json"):
            prefix = path.name.split(".", 1)[0]
            if prefix.isdigit():
                versions.append(int(prefix))
        return sorted(versions)

    def published_path(self, role: str, version: int | None = None) -> Path:
        check_role_name(role)
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
        if not path.exists():
            return None
        return read_bounded(path, MAX_METADATA_FILE, "metadata file")

    def published(self, role: str, version: int | None = None) -> Metadata | None:
        data = self.published_bytes(role, version)
        if data is None:
            return None
        if role == "root" and version is None:
            version = self.root_versions()[-1]
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
        return self.staged_dir / f"{check_stageable(role)}.json"

    def _state_path(self, role: str) -> Path:
        return self.staged_dir / f"{check_stageable(role)}.state.json"

    def staged_roles(self) -> list[str]:
        return sorted(
            p.name[: -len(".json")]
            for p in self.staged_dir.glob("*.json")
            if not p.name.endswith(".state.json")
        )

    def _staged_bytes(self, role: str) -> bytes:
        path = self.staged_path(role)
        if not path.exists():
            staged = ", ".join(visible(r) for r in self.staged_roles()) or "none"
            raise BadInput(
                f"nothing is staged for role {visible(role)!r} (staged: {staged})",
                "stage it first (root rotate, targets delegate/bump), or check the name",
            )
        return read_bounded(path, MAX_METADATA_FILE, "staged metadata")

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
            data = json.loads(read_bounded(path, MAX_STATE_FILE, "staged state file"))
            return StagedState(**data)
        except (BadInput, ValueError, TypeError):
            raise WorkspaceError(
                f"the state file of staged {visible(role)} ({path}) is missing or damaged",
                f"stage {visible(role)} again; its signatures cannot be trusted to match a review",
            ) from None

    def _check_unchanged(self, role: str, payload: bytes) -> None:
        state = self.staged_state(role)
        actual = hashlib.sha256(payload).hexdigest()
        if actual not in state.staged:
            raise WorkspaceError(
                f"staged {visible(role)} was changed after it was staged: its payload hash is "
                f"{actual[:16]}..., staged as {state.payload_sha256[:16]}...",
                f"do not edit staged files by hand; stage {visible(role)} again and review it",
            )

    def stage(self, role: str, metadata: Metadata, base_version: int | None) -> str:
        """Write a new proposal (replacing any older one); returns its hash."""
        check_stageable(role)
        digest = hashlib.sha256(payload_bytes(metadata)).hexdigest()
        with self.writing():
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

    def add_signatures(self, role: str, digest: str, new: dict[str, Signature]) -> StagedPayload:
        """Add ``new`` signatures to the proposal on disk now, if it is still ``digest``.

        Read again under the lock, so a signature another process saved a
        moment ago is kept; refused when the proposal itself changed.
        """
        with self.writing():
            current = self.staged_payload(role)
            if current.digest != digest:
                raise WorkspaceError(
                    f"staged {visible(role)} changed while it was being signed "
                    f"(now {current.digest[:16]}..., signed {digest[:16]}...): "
                    "the new signature was not saved",
                    f"review the new proposal (ceremony review {visible(role)}) and sign again",
                )
            current.signatures.update(new)
            data = file_bytes(current.signatures, current.signed_text)
            write_atomic(self.staged_path(role), data)
        return current

    def mark_reviewed(self, role: str, digest: str) -> None:
        with self.writing():
            state = self.staged_state(role)
            if digest not in state.staged or state.payload_sha256 != digest:
                raise WorkspaceError(
                    f"staged {visible(role)} changed while it was being reviewed",
                    f"review it again: ceremony review {visible(role)}",
                )
            state.reviewed_sha256 = digest
            write_atomic(self._state_path(role), state.to_json())

    def unstage(self, role: str) -> None:
        with self.writing():
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
        latest = self.published_path(role)
        with self.writing():
            if not (numbered.is_file() and numbered.read_bytes() == data):
                write_atomic(numbered, data, overwrite=False)
            write_atomic(latest, data)
        return [numbered, latest]

    # ------------------------------------------------------------------ keys

    def key_path(self, key: Key) -> Path:
        """Where a public key used in this repository is kept."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", owner_of(key)).strip("-").lower()[:40] or "key"
        return self.keys_dir / f"{slug}-{key.keyid[:12]}.json"

    def add_key(self, key: Key) -> Path:
        """Keep a copy of a public key used in this repository."""
        path = self.key_path(key)
        with self.writing():
            if not path.exists():
                write_atomic(path, key_to_json(key))
        return path
