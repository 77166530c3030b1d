"""Transfer bundles: round trips, and every refusal leaving nothing written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from ceremony.errors import TransferError
from ceremony.transfer import bundle as bundle_mod
from ceremony.transfer.bundle import (
    MANIFEST_NAME,
    SUMS_NAME,
    Bundle,
    BundleFile,
    check_repository,
    read_path,
    write_dir,
)

ROOT_BYTES = b'{"signatures": [], "signed": {"_type": "root", "version": 1}}\n'
# Deliberately not canonical JSON: a bundle must carry these exact bytes.
TARGETS_BYTES = b'{\n  "signed" : {"_type":"targets",  "version": 7}, "signatures":[]}'


def make_bundle(**overrides: object) -> Bundle:
    fields: dict[str, object] = {
        "purpose": "publish",
        "repository": "example-repo",
        "files": [
            BundleFile("metadata/targets.json", TARGETS_BYTES),
            BundleFile("metadata/1.root.json", ROOT_BYTES),
            BundleFile("keys/alice.json", b""),
        ],
        "created": "2026-11-27T20:00:00Z",
    }
    fields.update(overrides)
    return Bundle(**fields)  # type: ignore[arg-type]


def forge(manifest: dict, payload: bytes) -> bytes:
    """A bundle document with a hand-made manifest, as an attacker would write it."""
    from securesystemslib.formats import encode_canonical

    raw = encode_canonical(manifest).encode()
    return b"tuf-ceremony-bundle/1 %d\n" % len(raw) + raw + b"\n" + payload


def forged_manifest(files: list[tuple[str, bytes]], **overrides: object) -> dict:
    manifest = make_bundle().manifest()
    manifest["files"] = [
        {"name": name, "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in files
    ]
    manifest.update(overrides)
    return manifest


# --- round trips ----------------------------------------------------------------


def test_bytes_round_trip_keeps_exact_bytes() -> None:
    original = make_bundle()
    data = original.to_bytes()
    again = Bundle.from_bytes(data)
    assert again == original
    assert again.to_bytes() == data
    assert again.file("metadata/targets.json").data == TARGETS_BYTES
    assert [f.name for f in again.files] == sorted(f.name for f in original.files)


def test_document_is_deterministic_and_documented_layout() -> None:
    reordered = make_bundle(files=list(reversed(make_bundle().files)))
    assert make_bundle().to_bytes() == reordered.to_bytes()
    one = make_bundle().format1_bytes()
    two = make_bundle(files=list(reversed(make_bundle().files))).format1_bytes()
    assert one == two
    header, rest = one.split(b"\n", 1)
    magic, size = header.split(b" ")
    assert magic == b"tuf-ceremony-bundle/1"
    manifest = json.loads(rest[: int(size)])
    assert manifest["purpose"] == "publish"
    assert manifest["repository"] == "example-repo"
    assert manifest["tool_version"]
    assert rest[int(size) : int(size) + 1] == b"\n"
    assert rest[int(size) + 1 :] == b"".join(f.data for f in make_bundle().files)


def test_directory_round_trip(tmp_path: Path) -> None:
    original = make_bundle()
    out = write_dir(original, tmp_path / "export")
    assert out == tmp_path / "export"
    assert (out / "metadata" / "targets.json").read_bytes() == TARGETS_BYTES
    assert (out / MANIFEST_NAME).read_bytes() == original.manifest_bytes()
    assert read_path(out) == original
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sha256sums_checks_with_coreutils(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    result = subprocess.run(
        ["sha256sum", "--strict", "-c", SUMS_NAME], cwd=out, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == 4


def test_bundle_file_round_trip(tmp_path: Path) -> None:
    original = make_bundle(purpose="keys")
    path = tmp_path / "keys.bundle"
    path.write_bytes(original.to_bytes())
    assert read_path(path) == original


def test_empty_target_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    write_dir(make_bundle(), tmp_path / "export")
    assert read_path(tmp_path / "export") == make_bundle()


def test_every_purpose_round_trips() -> None:
    for purpose in ("publish", "partial", "keys"):
        assert Bundle.from_bytes(make_bundle(purpose=purpose).to_bytes()).purpose == purpose


def test_check_repository() -> None:
    check_repository(make_bundle(), "example-repo")
    with pytest.raises(TransferError, match="for repository 'example-repo'") as info:
        check_repository(make_bundle(), "other-repo")
    assert info.value.fix


# --- refusals: names and fields -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("../root.json", r"'\.' or '\.\.'"),
        ("metadata/../../etc/passwd", r"'\.' or '\.\.'"),
        ("metadata/./root.json", r"'\.' or '\.\.'"),
        ("/etc/passwd", "absolute"),
        ("metadata\\root.json", "backslash"),
        ("metadata//root.json", "empty path part"),
        ("metadata/", "empty path part"),
        ("", "empty name"),
        ("meta\ndata", "control"),
        ("C:/root.json", "FAT"),
        ("bundle.json", "reserved"),
        ("SHA256SUMS", "reserved"),
    ],
)
def test_bad_names_refused(name: str, words: str) -> None:
    with pytest.raises(TransferError, match=words):
        make_bundle(files=[BundleFile(name, b"x")])
    with pytest.raises(TransferError, match=words):
        Bundle.from_bytes(forge(forged_manifest([(name, b"x")]), b"x"))


def test_duplicate_names_refused() -> None:
    twice = [BundleFile("a.json", b"1"), BundleFile("a.json", b"2")]
    with pytest.raises(TransferError, match="twice"):
        make_bundle(files=twice)
    with pytest.raises(TransferError, match="twice"):
        Bundle.from_bytes(forge(forged_manifest([("a.json", b"1"), ("a.json", b"2")]), b"12"))


def test_names_differing_in_case_refused() -> None:
    with pytest.raises(TransferError, match="case"):
        make_bundle(files=[BundleFile("Root.json", b"1"), BundleFile("root.json", b"2")])


def test_file_and_directory_with_same_name_refused() -> None:
    with pytest.raises(TransferError, match="as a file and as the directory"):
        make_bundle(files=[BundleFile("metadata", b"1"), BundleFile("metadata/x.json", b"2")])


def test_unknown_purpose_refused() -> None:
    with pytest.raises(TransferError, match="unknown bundle purpose"):
        make_bundle(purpose="delete-everything")
    manifest = forged_manifest([("a.json", b"1")], purpose="delete-everything")
    with pytest.raises(TransferError, match="unknown bundle purpose"):
        Bundle.from_bytes(forge(manifest, b"1"))


# --- refusals: tampered documents -----------------------------------------------------


def test_hash_mismatch_refused() -> None:
    data = bytearray(make_bundle().format1_bytes())
    data[-3] ^= 0x01  # inside metadata/targets.json, the last file
    with pytest.raises(TransferError, match=r"metadata/targets\.json does not match its SHA-256"):
        Bundle.from_bytes(bytes(data))


def test_length_mismatch_refused() -> None:
    data = make_bundle().format1_bytes()
    with pytest.raises(TransferError, match="truncated or has extra data"):
        Bundle.from_bytes(data[:-1])
    with pytest.raises(TransferError, match="truncated or has extra data"):
        Bundle.from_bytes(data + b"\n")


def test_manifest_length_lie_refused() -> None:
    manifest = forged_manifest([("a.json", b"12")])
    manifest["files"][0]["length"] = 1  # the hash still covers b"12"
    with pytest.raises(TransferError, match=r"does not match its SHA-256"):
        Bundle.from_bytes(forge(manifest, b"1"))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x03\x04 zip file",
        b"tuf-ceremony-bundle/1 x\n{}\n",
        b"tuf-ceremony-bundle/1 999\n{}\n",
        b"tuf-ceremony-bundle/2 2\n{}\n",
    ],
)
def test_not_a_bundle_refused(data: bytes) -> None:
    with pytest.raises(TransferError):
        Bundle.from_bytes(data)


def test_non_canonical_manifest_refused() -> None:
    original = make_bundle()
    pretty = json.dumps(original.manifest(), indent=1).encode()
    payload = b"".join(f.data for f in original.files)
    data = b"tuf-ceremony-bundle/1 %d\n" % len(pretty) + pretty + b"\n" + payload
    with pytest.raises(TransferError, match="canonical"):
        Bundle.from_bytes(data)


def test_extra_manifest_field_refused() -> None:
    manifest = forged_manifest([("a.json", b"1")], surprise="yes")
    with pytest.raises(TransferError, match="expected fields"):
        Bundle.from_bytes(forge(manifest, b"1"))


# --- refusals: directories ---------------------------------------------------------


def test_target_not_empty_refused(tmp_path: Path) -> None:
    target = tmp_path / "export"
    target.mkdir()
    (target / "old.txt").write_text("keep me")
    with pytest.raises(TransferError, match="not empty"):
        write_dir(make_bundle(), target)
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_symlink_in_directory_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    secret = tmp_path / "secret"
    secret.write_bytes(TARGETS_BYTES)
    target = out / "metadata" / "targets.json"
    target.unlink()
    target.symlink_to(secret)
    with pytest.raises(TransferError, match="symbolic link"):
        read_path(out)


def test_symlinked_subdirectory_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    real = tmp_path / "elsewhere"
    (out / "metadata").rename(real)
    (out / "metadata").symlink_to(real, target_is_directory=True)
    with pytest.raises(TransferError, match="symbolic link"):
        read_path(out)


def test_symlink_to_bundle_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    (tmp_path / "link").symlink_to(out, target_is_directory=True)
    with pytest.raises(TransferError, match="symbolic link"):
        read_path(tmp_path / "link")


def test_tampered_file_in_directory_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    (out / "metadata" / "1.root.json").write_bytes(ROOT_BYTES.replace(b"1}", b"2}"))
    with pytest.raises(TransferError, match=r"1\.root\.json does not match"):
        read_path(out)


def test_truncated_file_in_directory_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    (out / "metadata" / "1.root.json").write_bytes(ROOT_BYTES[:-1])
    with pytest.raises(TransferError, match="bytes, the bundle's manifest says"):
        read_path(out)


def test_missing_file_in_directory_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    (out / "keys" / "alice.json").unlink()
    with pytest.raises(TransferError, match=r"misses alice\.json"):
        read_path(out)


def test_sha256sums_disagreeing_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    sums = (out / SUMS_NAME).read_text().splitlines()
    sums = [line for line in sums if not line.endswith("keys/alice.json")]
    (out / SUMS_NAME).write_text("\n".join(sums) + "\n")
    with pytest.raises(TransferError, match="list different files"):
        read_path(out)


def test_sha256sums_wrong_hash_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    text = (out / SUMS_NAME).read_text()
    wrong = hashlib.sha256(b"other").hexdigest()
    lines = [
        f"{wrong}  {line.split('  ', 1)[1]}" if line.endswith("1.root.json") else line
        for line in text.splitlines()
    ]
    (out / SUMS_NAME).write_text("\n".join(lines) + "\n")
    with pytest.raises(TransferError, match=f"does not match its line in {SUMS_NAME}"):
        read_path(out)


def test_missing_sha256sums_refused(tmp_path: Path) -> None:
    out = write_dir(make_bundle(), tmp_path / "export")
    (out / SUMS_NAME).unlink()
    with pytest.raises(TransferError, match=f"misses {SUMS_NAME}"):
        read_path(out)


def test_directory_without_manifest_refused(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(TransferError, match="not a bundle directory"):
        read_path(tmp_path / "x")
    with pytest.raises(TransferError, match="neither"):
        read_path(tmp_path / "missing")


# --- failing media: nothing left that looks complete ---------------------------------


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EROFS, "read-only"),
        (errno.ENOSPC, "full"),
        (errno.EACCES, "no permission"),
        (errno.EIO, "could not write"),
    ],
)
def test_rename_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(bundle_mod.os, "replace", fail)
    with pytest.raises(TransferError, match=words) as info:
        write_dir(make_bundle(), tmp_path / "export")
    assert info.value.fix
    assert _leftovers(tmp_path) == []


def test_disk_full_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second file reaches the medium's end
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(bundle_mod.os, "fsync", fsync)
    with pytest.raises(TransferError, match="full"):
        write_dir(make_bundle(), tmp_path / "export")
    assert _leftovers(tmp_path) == []


def test_read_only_medium_at_first_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def mkdir(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(bundle_mod.tempfile, "mkdtemp", mkdir)
    with pytest.raises(TransferError, match="read-only"):
        write_dir(make_bundle(), tmp_path / "export")
    assert _leftovers(tmp_path) == []


def test_failure_into_empty_target_keeps_it_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "export").mkdir()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle_mod.os, "replace", fail)
    with pytest.raises(TransferError, match="full"):
        write_dir(make_bundle(), tmp_path / "export")
    assert _leftovers(tmp_path) == ["export"]
    assert list((tmp_path / "export").iterdir()) == []
