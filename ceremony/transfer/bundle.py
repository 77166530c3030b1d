"""Transfer bundles: the files that cross the air gap, with their exact bytes.

TUF pins every metadata file by its length and hashes, so a bundle never
parses and re-serialises what it carries: each file travels as the bytes on
disk, with its name, length and SHA-256. Around the files a bundle names its
purpose (``publish``, ``partial`` signatures, public ``keys``), the
workspace's repository name (so a bundle cannot be imported into the wrong
repository), when it was made and by which tool version.

One bundle is one document (``Bundle.to_bytes``), the payload the QR code
carries and what ``ceremony export`` writes as a single file::

    tuf-ceremony-bundle/1 <N>\\n   header: magic, space, manifest length in bytes
    <manifest>                     N bytes: canonical JSON (UTF-8), see below
    \\n
    <file 1><file 2>...            the files' bytes, back to back, in manifest order

The manifest is canonical JSON (securesystemslib ``encode_canonical``: keys
sorted, no spaces) so the same bundle always gives the same bytes::

    {"created":"2026-11-27T20:31:25Z",
     "files":[{"length":1234,"name":"metadata/1.root.json","sha256":"<hex>"},...],
     "format":"tuf-ceremony-bundle","purpose":"publish",
     "repository":"example","tool_version":"0.1.0","version":1}

Files are sorted by name (Unicode code points). The data after the manifest
must be exactly the sum of the lengths: no more, no less. Keeping contents
raw (not base64 inside JSON) lets the QR layer's zlib compress JSON metadata
to a fraction of its size.

On a directory (a USB stick), ``write_dir`` lays the same bundle out as
plain files so people and ``sha256sum -c`` can check it without this tool::

    DIR/bundle.json      the manifest above, byte for byte
    DIR/SHA256SUMS       "<hex>  <name>" for every file and bundle.json
    DIR/<name>...        each file at its relative path

The directory appears whole or not at all: it is written in a hidden
temporary sibling, fsynced, then renamed into place.

Names are relative POSIX paths (``metadata/3.root.json``). Refused, before
anything is read or written: ``..`` or ``.`` parts, absolute paths,
backslashes, empty parts, control characters, characters FAT file systems
cannot hold, names that differ only in case, a name that is also a
directory of another, and the reserved ``bundle.json`` and ``SHA256SUMS``.
Every refusal is a :class:`~ceremony.errors.TransferError` naming the
problem and the fix.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from securesystemslib.formats import encode_canonical

from ceremony import __version__
from ceremony.errors import TransferError

FORMAT = "tuf-ceremony-bundle"
FORMAT_VERSION = 1
MAGIC = b"tuf-ceremony-bundle/1"
PURPOSES = ("publish", "partial", "keys")
MANIFEST_NAME = "bundle.json"
SUMS_NAME = "SHA256SUMS"
RESERVED_NAMES = frozenset({MANIFEST_NAME, SUMS_NAME})

_MAX_MANIFEST = 64 * 1024 * 1024
_MAX_NAME = 1024
_MAX_PART = 255
_FAT_ILLEGAL = set(':*?"<>|')
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CREATED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SUMS_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
_MANIFEST_KEYS = {"created", "files", "format", "purpose", "repository", "tool_version", "version"}
_ENTRY_KEYS = {"length", "name", "sha256"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class BundleFile:
    """One file of a bundle: its relative POSIX name and its exact bytes."""

    name: str
    data: bytes

    @property
    def length(self) -> int:
        """Length in bytes, as TUF records it."""
        return len(self.data)

    @property
    def sha256(self) -> str:
        """SHA-256 of the bytes, lowercase hex."""
        return _sha256(self.data)


@dataclass
class Bundle:
    """A set of files to carry across the air gap, and why.

    Files are kept sorted by name so the document is deterministic whatever
    order they were added in. Construction refuses bad names, duplicates and
    unknown purposes, so a Bundle in memory is always one we would write.
    """

    purpose: str
    repository: str
    files: Sequence[BundleFile]
    created: str = field(default_factory=_now)
    tool_version: str = __version__

    def __post_init__(self) -> None:
        _check_purpose(self.purpose)
        _check_label("repository name", self.repository)
        _check_label("tool version", self.tool_version)
        if not isinstance(self.created, str) or not _CREATED.fullmatch(self.created):
            raise TransferError(
                f"the bundle's creation time {self.created!r} is not YYYY-MM-DDTHH:MM:SSZ",
                "export the bundle again with this tool",
            )
        files = tuple(self.files)
        for item in files:
            if not isinstance(item, BundleFile) or not isinstance(item.data, bytes):
                raise TypeError("a bundle holds BundleFile items with bytes data")
        check_names(item.name for item in files)
        self.files = tuple(sorted(files, key=lambda item: item.name))

    def file(self, name: str) -> BundleFile:
        """The file called ``name``; KeyError when the bundle has none."""
        for item in self.files:
            if item.name == name:
                return item
        raise KeyError(name)

    def manifest(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dict (see the module docstring)."""
        return {
            "created": self.created,
            "files": [
                {"length": item.length, "name": item.name, "sha256": item.sha256}
                for item in self.files
            ],
            "format": FORMAT,
            "purpose": self.purpose,
            "repository": self.repository,
            "tool_version": self.tool_version,
            "version": FORMAT_VERSION,
        }

    def manifest_bytes(self) -> bytes:
        """The manifest in canonical JSON: ``bundle.json`` on disk."""
        return encode_canonical(self.manifest()).encode("utf-8")

    def to_bytes(self) -> bytes:
        """The whole bundle as one deterministic document."""
        manifest = self.manifest_bytes()
        header = MAGIC + b" " + str(len(manifest)).encode("ascii") + b"\n"
        return b"".join([header, manifest, b"\n", *(item.data for item in self.files)])

    def digest(self) -> str:
        """SHA-256 of :meth:`to_bytes`, lowercase hex: what witnesses compare."""
        return _sha256(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Bundle:
        """Parse a bundle document, checking every file's length and hash."""
        manifest_raw, payload = _split_document(data)
        meta, entries = parse_manifest(manifest_raw)
        total = sum(length for _, length, _ in entries)
        if total != len(payload):
            raise TransferError(
                f"the bundle carries {len(payload)} bytes of file data "
                f"but its manifest lists {total}: it is truncated or has extra data",
                "export or receive the bundle again",
            )
        files, offset = [], 0
        for name, length, digest in entries:
            chunk = payload[offset : offset + length]
            offset += length
            files.append(_checked_file(name, chunk, length, digest))
        return cls(files=files, **meta)


def _check_purpose(purpose: object) -> None:
    if purpose not in PURPOSES:
        raise TransferError(
            f"unknown bundle purpose {purpose!r}",
            f"a bundle's purpose is one of {', '.join(PURPOSES)}; export it again with this tool",
        )


def _check_label(what: str, value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise TransferError(f"the bundle's {what} is missing or too long", "export it again")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise TransferError(f"the bundle's {what} has control characters", "export it again")


def check_name(name: object) -> str:
    """Refuse a file name that could escape the target directory or not fit on FAT.

    Returns the name unchanged when it is a safe relative POSIX path.
    """
    fix = "export again: bundle names are relative paths like metadata/1.root.json"
    if not isinstance(name, str) or not name:
        raise TransferError("a bundle file has an empty name", fix)
    shown = repr(name)
    if len(name) > _MAX_NAME:
        raise TransferError(f"the bundle file name {shown[:80]}... is too long", fix)
    if "\\" in name:
        raise TransferError(f"the bundle file name {shown} has a backslash", fix)
    if name.startswith("/"):
        raise TransferError(f"the bundle file name {shown} is an absolute path", fix)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise TransferError(f"the bundle file name {shown} has control characters", fix)
    if _FAT_ILLEGAL & set(name):
        raise TransferError(f"the bundle file name {shown} has characters FAT cannot store", fix)
    parts = name.split("/")
    if any(part == "" for part in parts):
        raise TransferError(f"the bundle file name {shown} has an empty path part", fix)
    if any(part in (".", "..") for part in parts):
        raise TransferError(f"the bundle file name {shown} has a '.' or '..' part", fix)
    if any(len(part.encode("utf-8")) > _MAX_PART for part in parts):
        raise TransferError(f"the bundle file name {shown} has a part too long", fix)
    if name in RESERVED_NAMES:
        raise TransferError(f"the bundle file name {shown} is reserved for the bundle", fix)
    return name


def check_names(names: Iterable[str]) -> None:
    """Check every name, and that no two collide on disk (also case-insensitively)."""
    seen: dict[str, str] = {}
    for name in names:
        check_name(name)
        folded = name.casefold()
        if folded in seen:
            same = (
                "twice"
                if seen[folded] == name
                else f"as {seen[folded]!r} and {name!r}, names differing only in case"
            )
            raise TransferError(
                f"the bundle holds {name!r} {same}",
                "export again: each file may appear once (names differing only in case "
                "collide on USB sticks)",
            )
        seen[folded] = name
    for folded, name in seen.items():
        parts = folded.split("/")
        for cut in range(1, len(parts)):
            prefix = "/".join(parts[:cut])
            if prefix in seen:
                raise TransferError(
                    f"the bundle holds {seen[prefix]!r} both as a file and as the "
                    f"directory of {name!r}",
                    "export again with distinct names",
                )


def check_repository(bundle: Bundle, expected_name: str) -> None:
    """Refuse a bundle made for another repository than this workspace's."""
    if bundle.repository != expected_name:
        raise TransferError(
            f"this bundle is for repository {bundle.repository!r}, "
            f"but this workspace is {expected_name!r}",
            f"import it into the workspace of {bundle.repository!r}, "
            "or export again from the right workspace",
        )


def _split_document(data: bytes) -> tuple[bytes, bytes]:
    """Cut a bundle document into its manifest and its file data."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("a bundle document is bytes")
    data = bytes(data)
    fix = "this is not a tuf-ceremony bundle, or it is damaged: export or receive it again"
    end = data.find(b"\n", 0, len(MAGIC) + 12)
    head = data[:end] if end >= 0 else b""
    prefix = MAGIC + b" "
    digits = head[len(prefix) :]
    if not head.startswith(prefix) or not digits.isdigit() or len(digits) > 9:
        if data.startswith(b"tuf-ceremony-bundle/"):
            fix = "this bundle was made by another version of tuf-ceremony: use a matching one"
        raise TransferError("the bundle's header is not 'tuf-ceremony-bundle/1 <length>'", fix)
    size = int(digits)
    start = end + 1
    if size > _MAX_MANIFEST or len(data) < start + size + 1 or data[start + size] != 0x0A:
        raise TransferError("the bundle's manifest is truncated or malformed", fix)
    return data[start : start + size], data[start + size + 1 :]


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise TransferError("the bundle's manifest repeats a key", "export the bundle again")
    return dict(pairs)


def _reject_constant(value: str) -> None:
    raise TransferError(f"the bundle's manifest holds {value}", "export the bundle again")


def parse_manifest(raw: bytes) -> tuple[dict[str, str], list[tuple[str, int, str]]]:
    """Check a manifest and return its fields and its (name, length, sha256) entries.

    The manifest must be exactly the canonical JSON we write: one spelling
    per bundle, so two parties hashing it agree.
    """
    fix = "the bundle manifest is damaged or not from tuf-ceremony: export it again"
    try:
        doc = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise TransferError(f"the bundle's manifest is not valid JSON ({exc})", fix) from None
    if not isinstance(doc, dict) or set(doc) != _MANIFEST_KEYS:
        raise TransferError("the bundle's manifest does not have the expected fields", fix)
    if doc["format"] != FORMAT or doc["version"] != FORMAT_VERSION:
        raise TransferError(
            f"the manifest is format {doc['format']!r} version {doc['version']!r}",
            "use the tuf-ceremony version that made the bundle",
        )
    try:
        canonical = encode_canonical(doc).encode("utf-8")
    except Exception:
        raise TransferError("the bundle's manifest has values JSON cannot sign", fix) from None
    if canonical != raw:
        raise TransferError("the bundle's manifest is not in canonical JSON form", fix)
    _check_purpose(doc["purpose"])
    if not isinstance(doc["files"], list):
        raise TransferError("the bundle's manifest has no file list", fix)
    entries = [_parse_entry(entry, fix) for entry in doc["files"]]
    check_names(name for name, _, _ in entries)
    names = [name for name, _, _ in entries]
    if names != sorted(names):
        raise TransferError("the bundle's manifest lists files out of name order", fix)
    meta = {key: doc[key] for key in ("purpose", "repository", "created", "tool_version")}
    return meta, entries


def _parse_entry(entry: object, fix: str) -> tuple[str, int, str]:
    if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
        raise TransferError("a file entry of the manifest is malformed", fix)
    name, length, digest = entry["name"], entry["length"], entry["sha256"]
    check_name(name)
    if type(length) is not int or length < 0:
        raise TransferError(f"the manifest's length of {name!r} is not a byte count", fix)
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise TransferError(f"the manifest's SHA-256 of {name!r} is not 64 hex digits", fix)
    return name, length, digest


def _checked_file(name: str, data: bytes, length: int, digest: str) -> BundleFile:
    """A BundleFile, once its bytes match the manifest's length and hash."""
    if len(data) != length:
        raise TransferError(
            f"{name} is {len(data)} bytes, the bundle's manifest says {length}",
            "the file was changed or truncated on the way: export or receive it again",
        )
    actual = _sha256(data)
    if actual != digest:
        raise TransferError(
            f"{name} does not match its SHA-256 in the bundle "
            f"(expected {digest[:16]}..., found {actual[:16]}...)",
            "the file was changed on the way: do not use it; export or receive it again",
        )
    return BundleFile(name, data)


def sha256sums(bundle: Bundle) -> bytes:
    """The ``SHA256SUMS`` text (``sha256sum -c`` format) for a bundle directory."""
    rows = [(item.sha256, item.name) for item in bundle.files]
    rows.append((_sha256(bundle.manifest_bytes()), MANIFEST_NAME))
    return "".join(
        f"{digest}  {name}\n" for digest, name in sorted(rows, key=lambda r: r[1])
    ).encode("utf-8")


# --- writing a directory ----------------------------------------------------


def _target_is_free(target: Path) -> None:
    """Refuse a target that exists, unless it is an empty real directory."""
    if target.is_symlink():
        raise TransferError(
            f"{target} is a symbolic link", "choose a plain directory path for the export"
        )
    if not target.exists():
        return
    if not target.is_dir() or any(target.iterdir()):
        raise TransferError(
            f"{target} already exists and is not empty",
            "choose a new directory, or move the old export away first",
        )


def _write_error(exc: OSError, target: Path) -> TransferError:
    """Turn a write failure into words a key holder can act on."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return TransferError(
            f"the medium holding {target} is full; the export was not written",
            "free some space or use a larger USB stick, then export again",
        )
    if code == errno.EROFS:
        return TransferError(
            f"the medium holding {target} is read-only; the export was not written",
            "slide the write-protect switch off or mount the stick read-write, then export again",
        )
    if code in (errno.EACCES, errno.EPERM):
        return TransferError(
            f"no permission to write {target}; the export was not written",
            "choose a directory you may write to, then export again",
        )
    if code in (errno.ENOTEMPTY, errno.EEXIST):
        return TransferError(
            f"{target} appeared while exporting and is not empty; the export was not written",
            "choose a new directory, then export again",
        )
    return TransferError(
        f"could not write {target}: {exc.strerror or exc}; the export was not written",
        "check the medium, then export again",
    )


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # some file systems cannot fsync a directory
            raise
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for directory, _, _ in sorted(os.walk(root), key=lambda row: -len(row[0])):
        _fsync_dir(Path(directory))


def write_dir(bundle: Bundle, directory: str | os.PathLike[str]) -> Path:
    """Write a bundle's files, ``SHA256SUMS`` and ``bundle.json`` into ``directory``.

    The directory must not exist or be empty. Everything is written in a
    hidden sibling ``.NAME.partial-*``, fsynced, then renamed into place, so
    a pulled stick or a full disk never leaves something that looks like a
    complete export. Returns the directory written.
    """
    target = Path(directory).absolute()
    _target_is_free(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as exc:
        raise _write_error(exc, target) from None
    try:
        for item in bundle.files:
            _write_file(tmp / item.name, item.data)
        _write_file(tmp / SUMS_NAME, sha256sums(bundle))
        _write_file(tmp / MANIFEST_NAME, bundle.manifest_bytes())
        _fsync_tree(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(exc, target) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _fsync_dir(target.parent)
    except OSError as exc:
        raise TransferError(
            f"{target} was written but could not be flushed to the medium ({exc.strerror})",
            f"run 'sync', then check it with 'cd {target} && sha256sum -c SHA256SUMS'",
        ) from None
    return target


# --- reading ------------------------------------------------------------------


def read_path(path: str | os.PathLike[str]) -> Bundle:
    """Read a bundle from a directory written by :func:`write_dir` or a bundle file.

    Every file's length and hash are checked against the manifest, and in a
    directory against ``SHA256SUMS`` as well. Symbolic links are refused.
    """
    source = Path(path)
    if source.is_symlink():
        raise TransferError(
            f"{source} is a symbolic link", "give the path of the bundle itself, not a link"
        )
    if source.is_dir():
        return _read_dir(source)
    if source.is_file():
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise TransferError(
                f"cannot read {source}: {exc.strerror}", "check the medium"
            ) from None
        return Bundle.from_bytes(data)
    raise TransferError(
        f"{source} is neither a bundle directory nor a bundle file",
        "give the directory written by 'ceremony export --dir', or a bundle file",
    )


def _refuse_links(root: Path) -> None:
    """Refuse a directory that holds a symbolic link anywhere inside it."""
    for directory, dirs, files in os.walk(root, followlinks=False):
        for entry in dirs + files:
            if os.path.islink(os.path.join(directory, entry)):
                rel = os.path.relpath(os.path.join(directory, entry), root)
                raise TransferError(
                    f"the bundle directory {root} holds a symbolic link: {rel}",
                    "a bundle holds plain files only; export it again",
                )


def _read_regular(path: Path) -> bytes:
    """Read a plain file without following a link at its last component."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise TransferError(
            f"the bundle directory misses {path.name} ({path})",
            "copy the whole export directory, or export again",
        ) from None
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror}", "check the medium") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TransferError(f"{path} is not a plain file", "export the bundle again")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)


def _read_dir(root: Path) -> Bundle:
    _refuse_links(root)
    if not (root / MANIFEST_NAME).exists():
        raise TransferError(
            f"{root} has no {MANIFEST_NAME}, so it is not a bundle directory",
            "give the directory written by 'ceremony export --dir'",
        )
    manifest_raw = _read_regular(root / MANIFEST_NAME)
    meta, entries = parse_manifest(manifest_raw)
    files = [
        _checked_file(name, _read_regular(root.joinpath(*name.split("/"))), length, digest)
        for name, length, digest in entries
    ]
    bundle = Bundle(files=files, **meta)
    _check_sums(root, bundle, _sha256(manifest_raw))
    return bundle


def _parse_sums(text: str, source: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _SUMS_LINE.fullmatch(line)
        if not match:
            raise TransferError(
                f"{source} line {number} is not '<sha256>  <name>'", "export the bundle again"
            )
        digest, name = match.group(1).lower(), match.group(2)
        if name in sums:
            raise TransferError(f"{source} lists {name!r} twice", "export the bundle again")
        sums[name] = digest
    return sums


def _check_sums(root: Path, bundle: Bundle, manifest_digest: str) -> None:
    """Cross-check SHA256SUMS against the files and manifest already verified."""
    source = root / SUMS_NAME
    try:
        text = _read_regular(source).decode("utf-8")
    except UnicodeDecodeError:
        raise TransferError(f"{source} is not text", "export the bundle again") from None
    sums = _parse_sums(text, source)
    expected = {item.name: item.sha256 for item in bundle.files}
    expected[MANIFEST_NAME] = manifest_digest
    if set(sums) != set(expected):
        odd = sorted(set(sums) ^ set(expected))
        raise TransferError(
            f"{source} and {MANIFEST_NAME} list different files: {', '.join(odd[:5])}",
            "the export was changed after it was written: export it again",
        )
    for name, digest in sorted(expected.items()):
        if sums[name] != digest:
            raise TransferError(
                f"{name} does not match its line in {SUMS_NAME}",
                "the export was changed after it was written: export it again",
            )
