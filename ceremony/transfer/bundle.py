"""Transfer bundles: the files that cross the air gap, with their exact bytes.

TUF pins every metadata file by its length and hashes, so a bundle never
parses and re-serialises what it carries: each file travels as the bytes on
disk, with its name, length and SHA-256. Around the files a bundle names its
purpose (``publish``, ``partial`` signatures, public ``keys``), the
workspace's repository name (so a bundle cannot be imported into the wrong
repository), when it was made and by which tool version. The byte layout is
documented in docs/bundle-format.md.

The manifest is canonical JSON (securesystemslib ``encode_canonical``: keys
sorted, no spaces) so the same bundle always gives the same bytes::

    {"created":"2026-11-27T20:31:25Z",
     "files":[{"length":1234,"name":"metadata/1.root.json","sha256":"<hex>"},...],
     "format":"tuf-ceremony-bundle","purpose":"publish",
     "repository":"example","tool_version":"0.1.0","version":1}

One bundle is one document (``Bundle.to_bytes``), the payload the QR code
carries and what a bundle file holds. Format 2, the one written::

    tuf-ceremony-bundle/2 lzma\\n    header: magic, space, the compression's name
    <compressed stream>           of: <N>\\n <manifest, N bytes> \\n <contents>

where the contents are each *distinct* file content once, in the order of
the first file (by name) that has it: ``N.ROLE.json`` and ``ROLE.json`` are
the same bytes under two names and travel once. Format 1 (read, never
written any more) is ``tuf-ceremony-bundle/1 <N>\\n<manifest>\\n`` and
every file's bytes in manifest order, uncompressed. Any other format or
compression is refused with a message naming it.

:meth:`Bundle.digest`, the bundle hash people compare, is the SHA-256 of
the format-1 document: it depends on the files and the manifest only, not
on the compression or on the version of the LZMA library.

On a directory (a USB stick), ``write_dir`` lays the same bundle out as
plain files so people and ``sha256sum -c`` can check it without this tool::

    DIR/bundle.json      the manifest above, byte for byte
    DIR/SHA256SUMS       "<hex>  <name>" for every file and bundle.json
    DIR/<name>...        each file at its relative path

The directory appears whole or not at all: it is written in a hidden
temporary sibling, fsynced, then renamed into place. Its parent must exist:
a missing parent most likely means a USB stick that is not mounted, and
creating it would put the export on the laptop's own disk.

Names are relative POSIX paths (``metadata/3.root.json``). Refused, before
anything is read or written: ``..`` or ``.`` parts, absolute paths,
backslashes, empty parts, control characters, characters FAT file systems
cannot hold, names that differ only in case, a name that is also a
directory of another, and the reserved ``bundle.json`` and ``SHA256SUMS``.
Sizes are limited before anything is inflated or read (``MAX_MANIFEST``,
``MAX_FILES``, ``MAX_DATA``), only regular files are read, and JSON nested
too deep is refused. Every refusal is a
:class:`~ceremony.errors.TransferError` naming the problem and the fix.
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
from ceremony.errors import BadInput, TransferError
from ceremony.fsutil import read_bounded
from ceremony.transfer import codec

FORMAT = "tuf-ceremony-bundle"
FORMAT_VERSION = 1
"""Version of the manifest (bundle.json); the document format is apart."""
MAGIC_PREFIX = b"tuf-ceremony-bundle/"
MAGIC = MAGIC_PREFIX + b"1"
"""Format 1's header magic (read only)."""
DOCUMENT_FORMAT = 2
"""The document format this version writes; it reads 1 and 2."""
DOCUMENT_FORMATS = (1, 2)
PURPOSES = ("publish", "partial", "keys")
MANIFEST_NAME = "bundle.json"
SUMS_NAME = "SHA256SUMS"
RESERVED_NAMES = frozenset({MANIFEST_NAME, SUMS_NAME})

MAX_MANIFEST = 16 * 1024 * 1024
"""Largest manifest (or SHA256SUMS) read: some 120,000 files."""
MAX_FILES = 100_000
"""Most files one bundle lists (16,384 hash bins under two names fit)."""
MAX_DATA = 256 * 1024 * 1024
"""Most bytes of file data one bundle holds, counted under every name."""
MAX_DOCUMENT = MAX_DATA + MAX_MANIFEST + 64
"""Largest bundle document read from a file."""

_MAX_NAME = 1024
_MAX_PART = 255
_FAT_ILLEGAL = set(':*?"<>|')
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CREATED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SUMS_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
_MANIFEST_KEYS = {"created", "files", "format", "purpose", "repository", "tool_version", "version"}
_ENTRY_KEYS = {"length", "name", "sha256"}
_DAMAGED = "this is not a tuf-ceremony bundle, or it is damaged: export or receive it again"


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
        return _canonical(self.manifest())

    def contents(self) -> list[bytes]:
        """Each distinct file content once, in the order of the first name that has it."""
        seen: dict[str, bytes] = {}
        for item in self.files:
            seen.setdefault(item.sha256, item.data)
        return list(seen.values())

    def to_bytes(self) -> bytes:
        """The whole bundle as one deterministic document, format 2 (compressed)."""
        manifest = self.manifest_bytes()
        body = b"".join([_length_line(manifest), manifest, b"\n", *self.contents()])
        header = b"%s%d %s\n" % (MAGIC_PREFIX, DOCUMENT_FORMAT, codec.WRITTEN.encode("ascii"))
        return header + codec.compress(codec.WRITTEN, body)

    def format1_bytes(self) -> bytes:
        """The document in format 1 (every file under every name, uncompressed)."""
        return b"".join(self._format1_parts())

    def _format1_parts(self) -> list[bytes]:
        manifest = self.manifest_bytes()
        header = MAGIC + b" " + str(len(manifest)).encode("ascii") + b"\n"
        return [header, manifest, b"\n", *(item.data for item in self.files)]

    def digest(self) -> str:
        """SHA-256 of the format-1 document, lowercase hex: what witnesses compare.

        Independent of the compression, so two sites (and two versions of
        the tool) holding the same files and manifest print the same hash.
        """
        digest = hashlib.sha256()
        for part in self._format1_parts():
            digest.update(part)
        return digest.hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> Bundle:
        """Parse a bundle document of format 1 or 2, checking every file's length and hash."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("a bundle document is bytes")
        data = bytes(data)
        version, word, body = _split_header(data)
        if version == 1:
            return cls._from_format1(word, body)
        return cls._from_format2(word, body)

    @classmethod
    def _from_format1(cls, size: str, body: bytes) -> Bundle:
        length = int(size)
        if length > MAX_MANIFEST or len(body) < length + 1 or body[length] != 0x0A:
            raise TransferError("the bundle's manifest is truncated or malformed", _DAMAGED)
        meta, entries = parse_manifest(body[:length])
        payload = body[length + 1 :]
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

    @classmethod
    def _from_format2(cls, compression: str, body: bytes) -> Bundle:
        stream = codec.Inflater(compression, body)
        line = stream.read_line(len(str(MAX_MANIFEST)))
        if line is None or not line.isdigit() or int(line) > MAX_MANIFEST:
            raise TransferError("the bundle's manifest length is malformed", _DAMAGED)
        manifest_raw = stream.read(int(line))
        if stream.read(1) != b"\n":
            raise TransferError("the bundle's manifest is not followed by a line feed", _DAMAGED)
        meta, entries = parse_manifest(manifest_raw)
        contents: dict[str, bytes] = {}
        files = []
        for name, length, digest in entries:
            if digest not in contents:
                contents[digest] = stream.read(length)
            files.append(_checked_file(name, contents[digest], length, digest))
        stream.finish()
        return cls(files=files, **meta)


def _canonical(document: Any) -> bytes:
    """securesystemslib's canonical JSON, as bytes."""
    return str(encode_canonical(document)).encode("utf-8")


def _length_line(manifest: bytes) -> bytes:
    return str(len(manifest)).encode("ascii") + b"\n"


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


_WORD = re.compile(rb"[0-9]{1,9}|[a-z0-9][a-z0-9.+-]{0,15}")


def _split_header(data: bytes) -> tuple[int, str, bytes]:
    """The document format, the word after it (format 1: manifest length, format 2:
    compression) and the bytes after the header line."""
    end = data.find(b"\n", 0, 64)
    head = data[:end] if end >= 0 else data[:64]
    if not head.startswith(MAGIC_PREFIX):
        raise TransferError("this is not a tuf-ceremony bundle (no tuf-ceremony-bundle header)",
                            _DAMAGED)
    version, _, word = head[len(MAGIC_PREFIX) :].partition(b" ")
    if version not in (b"1", b"2"):
        shown = version[:12].decode("ascii", "replace")
        raise TransferError(
            f"this bundle is in format {shown!r}, which this version of tuf-ceremony does "
            f"not read (it reads formats {', '.join(map(str, DOCUMENT_FORMATS))})",
            "read it with the tuf-ceremony version that made it, or a newer one",
        )
    if end < 0 or not _WORD.fullmatch(word) or (version == b"1") != word.isdigit():
        expected = "<manifest length>" if version == b"1" else "<compression>"
        raise TransferError(
            f"the bundle's header is not 'tuf-ceremony-bundle/{version.decode()} {expected}'",
            _DAMAGED,
        )
    return int(version), word.decode("ascii"), data[end + 1 :]


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
    except RecursionError:
        raise TransferError("the bundle's manifest nests JSON too deep", fix) from None
    if not isinstance(doc, dict) or set(doc) != _MANIFEST_KEYS:
        raise TransferError("the bundle's manifest does not have the expected fields", fix)
    if doc["format"] != FORMAT or doc["version"] != FORMAT_VERSION:
        raise TransferError(
            f"the manifest is format {doc['format']!r} version {doc['version']!r}",
            "use the tuf-ceremony version that made the bundle",
        )
    try:
        canonical = _canonical(doc)
    except Exception:
        raise TransferError("the bundle's manifest has values JSON cannot sign", fix) from None
    if canonical != raw:
        raise TransferError("the bundle's manifest is not in canonical JSON form", fix)
    _check_purpose(doc["purpose"])
    if not isinstance(doc["files"], list):
        raise TransferError("the bundle's manifest has no file list", fix)
    if len(doc["files"]) > MAX_FILES:
        raise TransferError(
            f"the bundle lists {len(doc['files'])} files, more than the {MAX_FILES} it may",
            "move fewer files per bundle",
        )
    entries = [_parse_entry(entry, fix) for entry in doc["files"]]
    total = sum(length for _, length, _ in entries)
    if total > MAX_DATA:
        raise TransferError(
            f"the bundle's files add up to {total} bytes, more than the {MAX_DATA} it may hold",
            "move fewer or smaller files per bundle",
        )
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


def check_target(directory: str | os.PathLike[str]) -> Path:
    """The absolute path of a new export directory, once it is safe to write.

    Refused: a symbolic link, something that exists and is not an empty
    directory, and a parent folder that does not exist. The last is
    refused rather than created because it usually means a USB stick that
    is not mounted: creating ``/media/usb/out`` would put the export on
    the laptop's own disk, where nobody would carry it.
    """
    target = Path(directory).absolute()
    if target.is_symlink():
        raise TransferError(
            f"{target} is a symbolic link", "choose a plain directory path for the export"
        )
    if target.exists():
        if not target.is_dir() or any(target.iterdir()):
            raise TransferError(
                f"{target} already exists and is not empty",
                "choose a new directory, or move the old export away first",
            )
        return target
    parent = target.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise TransferError(
            f"the folder {parent} {what}: is the USB stick mounted?",
            f"mount the stick (or create {parent} if the files belong there), then try again",
        )
    return target


_target_is_free = check_target  # the name older callers use


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


def _write_tree(files: Iterable[tuple[str, bytes]], directory: str | os.PathLike[str]) -> Path:
    """Write files (relative POSIX names) into a new directory, whole or not at all.

    Everything is written in a hidden sibling ``.NAME.partial-*``, fsynced,
    then renamed into place, so a pulled stick or a full disk never leaves
    something that looks complete; a failure is reported in words with
    nothing left behind.
    """
    target = check_target(directory)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as exc:
        raise _write_error(exc, target) from None
    try:
        for name, data in files:
            _write_file(tmp.joinpath(*name.split("/")), data)
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
            f"run 'sync', then check the files in {target}",
        ) from None
    return target


def write_dir(bundle: Bundle, directory: str | os.PathLike[str]) -> Path:
    """Write a bundle's files, ``SHA256SUMS`` and ``bundle.json`` into ``directory``.

    The directory must not exist or be empty, and its parent must exist
    (:func:`check_target`). Returns the directory written.
    """
    files = [(item.name, item.data) for item in bundle.files]
    files += [(SUMS_NAME, sha256sums(bundle)), (MANIFEST_NAME, bundle.manifest_bytes())]
    return _write_tree(files, directory)


def write_files(
    files: dict[str, bytes], directory: str | os.PathLike[str], *, with_sums: bool = False
) -> Path:
    """Write flat files (QR frame images, say) into a new directory, as :func:`write_dir`;
    with ``with_sums`` a SHA256SUMS of them beside them."""
    for name in files:
        check_name(name)
    items = list(files.items())
    if with_sums:
        sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(items))
        items.append((SUMS_NAME, sums.encode()))
    return _write_tree(items, directory)


# --- reading ------------------------------------------------------------------


def read_path(path: str | os.PathLike[str]) -> Bundle:
    """Read a bundle from a directory written by :func:`write_dir` or a bundle file.

    Every file's length and hash are checked against the manifest, and in a
    directory against ``SHA256SUMS`` as well. Symbolic links are refused;
    only regular files are read (a FIFO or a device never hangs the read),
    and never more than the limits above.
    """
    source = Path(path)
    if source.is_symlink():
        raise TransferError(
            f"{source} is a symbolic link", "give the path of the bundle itself, not a link"
        )
    if source.is_dir():
        return _read_dir(source)
    if not source.exists():
        raise TransferError(
            f"{source} is neither a bundle directory nor a bundle file",
            "give the directory written by 'ceremony export --dir', or a bundle file",
        )
    return Bundle.from_bytes(_read_outside(source, MAX_DOCUMENT, "the bundle file"))


def _read_outside(path: Path, limit: int, what: str) -> bytes:
    """A regular file of at most ``limit`` bytes (fsutil.read_bounded), as a TransferError."""
    try:
        return read_bounded(path, limit, what)
    except BadInput as error:
        raise TransferError(error.problem, error.fix) from None


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


def _read_member(root: Path, name: str, limit: int) -> bytes:
    """One file of a bundle directory: present, not a link, regular, at most ``limit``."""
    path = root.joinpath(*name.split("/"))
    if not os.path.lexists(path):
        raise TransferError(
            f"the bundle directory misses {path.name} ({path})",
            "copy the whole export directory, or export again",
        )
    if path.is_symlink():
        raise TransferError(
            f"the bundle directory {root} holds a symbolic link: {name}",
            "a bundle holds plain files only; export it again",
        )
    return _read_outside(path, limit, "the bundle's file")


def _read_entry(root: Path, name: str, length: int, digest: str) -> BundleFile:
    """A listed file, refused by its size before it is read when that is wrong."""
    path = root.joinpath(*name.split("/"))
    try:
        info = os.lstat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size != length:
        raise TransferError(
            f"{name} is {info.st_size} bytes, the bundle's manifest says {length}",
            "the file was changed or truncated on the way: export or receive it again",
        )
    return _checked_file(name, _read_member(root, name, length), length, digest)


def _read_dir(root: Path) -> Bundle:
    _refuse_links(root)
    if not os.path.lexists(root / MANIFEST_NAME):
        raise TransferError(
            f"{root} has no {MANIFEST_NAME}, so it is not a bundle directory",
            "give the directory written by 'ceremony export --dir'",
        )
    manifest_raw = _read_member(root, MANIFEST_NAME, MAX_MANIFEST)
    meta, entries = parse_manifest(manifest_raw)
    files = [_read_entry(root, name, length, digest) for name, length, digest in entries]
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
        text = _read_member(root, SUMS_NAME, MAX_MANIFEST).decode("utf-8")
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
