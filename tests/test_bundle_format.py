"""Bundle document format 2 (each content once, compressed), format 1 still read,
unknown formats refused by name, and the limits on what a bundle may hold."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import signal
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from securesystemslib.formats import encode_canonical

from ceremony.errors import TransferError
from ceremony.transfer import bundle as bundle_mod
from ceremony.transfer import codec
from ceremony.transfer.bundle import (
    MANIFEST_NAME,
    MAX_DATA,
    MAX_FILES,
    Bundle,
    BundleFile,
    read_path,
    write_dir,
    write_files,
)
from ceremony.transfer.frames import FountainDecoder
from ceremony.transfer.qr import bundle_from_payload

FIXTURES = Path(__file__).parent / "fixtures" / "format1"
CREATED = "2026-11-27T20:00:00Z"


def _bundle(files: list[BundleFile], purpose: str = "publish") -> Bundle:
    return Bundle(purpose, "example-repo", files, created=CREATED)


def _inflate(body: bytes) -> bytes:
    """Format 2's stream, inflated with nothing but the standard library."""
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 8 * 1024 * 1024}]
    return lzma.decompress(body, format=lzma.FORMAT_RAW, filters=filters)


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, rather than hang for ever, when a read blocks."""

    def expire(*_: object) -> None:
        raise TimeoutError("the read blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# --- one content, several names ----------------------------------------------------


def test_duplicated_files_travel_once_and_come_back_under_every_name() -> None:
    role = os.urandom(60_000)  # incompressible, more than zlib's 32 KB window
    other = os.urandom(5_000)
    files = [
        BundleFile("metadata/7.targets.json", role),
        BundleFile("metadata/targets.json", role),
        BundleFile("metadata/1.root.json", other),
        BundleFile("metadata/root.json", other),
        BundleFile("staged/targets.json", role),
    ]
    bundle = _bundle(files)
    document = bundle.to_bytes()
    assert len(document) < len(role) + len(other) + 2_000, "each content once"
    assert len(bundle.format1_bytes()) > 3 * len(role)
    again = Bundle.from_bytes(document)
    assert again == bundle
    for item in files:
        assert again.file(item.name).data == item.data
        assert hashlib.sha256(again.file(item.name).data).hexdigest() == item.sha256
    assert again.digest() == bundle.digest()


def test_format2_layout_is_as_documented() -> None:
    files = [
        BundleFile("b.json", b"second"),
        BundleFile("a.json", b"first"),
        BundleFile("c.json", b"first"),
    ]
    bundle = _bundle(files)
    document = bundle.to_bytes()
    header, body = document.split(b"\n", 1)
    assert header == b"tuf-ceremony-bundle/2 lzma"
    inner = _inflate(body)
    size, rest = inner.split(b"\n", 1)
    manifest = rest[: int(size)]
    assert manifest == bundle.manifest_bytes()
    assert json.loads(manifest)["version"] == 1
    # contents in the order of the first name that has them, each once
    assert rest[int(size) :] == b"\nfirst" + b"second"
    assert bundle.to_bytes() == _bundle(list(reversed(files))).to_bytes()


def test_digest_is_the_format1_documents_whatever_the_compression() -> None:
    bundle = _bundle([BundleFile("a.json", b"x" * 100), BundleFile("b.json", b"x" * 100)])
    assert bundle.digest() == hashlib.sha256(bundle.format1_bytes()).hexdigest()
    assert Bundle.from_bytes(bundle.format1_bytes()).digest() == bundle.digest()


def test_empty_files_and_a_bundle_of_no_files() -> None:
    for files in ([], [BundleFile("a.json", b""), BundleFile("b.json", b"")]):
        bundle = _bundle(files, purpose="keys")
        assert Bundle.from_bytes(bundle.to_bytes()) == bundle


# --- today's format still read -------------------------------------------------------


def _expected() -> dict:
    return json.loads((FIXTURES / "expected.json").read_text())


def _check_fixture_bundle(bundle: Bundle) -> None:
    expected = _expected()
    rows = [{"name": f.name, "length": f.length, "sha256": f.sha256} for f in bundle.files]
    assert rows == expected["files"]
    assert (bundle.purpose, bundle.repository, bundle.created) == (
        expected["purpose"],
        expected["repository"],
        expected["created"],
    )
    assert hashlib.sha256(bundle.manifest_bytes()).hexdigest() == expected["manifest_sha256"]
    # the bundle hash printed by the old version is the one printed now
    assert bundle.digest() == expected["document_sha256"]


def test_format1_bundle_file_still_reads() -> None:
    data = (FIXTURES / "publish.bundle").read_bytes()
    assert data.startswith(b"tuf-ceremony-bundle/1 ")
    _check_fixture_bundle(Bundle.from_bytes(data))
    _check_fixture_bundle(read_path(FIXTURES / "publish.bundle"))


def test_format1_directory_still_reads() -> None:
    _check_fixture_bundle(read_path(FIXTURES / "publish-dir"))


def test_tc1_frames_of_a_zlib_payload_still_read() -> None:
    expected = _expected()
    decoder = FountainDecoder()
    for text in (FIXTURES / "frames-v10-L.txt").read_text().splitlines():
        decoder.add(text)
        if decoder.complete:
            break
    assert decoder.complete and decoder.short_hash == expected["short_hash"]
    assert decoder.k == expected["k"]
    _check_fixture_bundle(bundle_from_payload(decoder.result()))


def test_a_new_bundle_inside_an_old_style_zlib_payload_reads() -> None:
    bundle = _bundle([BundleFile("a.json", b"{}")])
    assert bundle_from_payload(zlib.compress(bundle.to_bytes(), 9)) == bundle
    assert bundle_from_payload(bundle.to_bytes()) == bundle


# --- unknown formats refused by name ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"tuf-ceremony-bundle/3 lzma\n....", "format '3'"),
        (b"tuf-ceremony-bundle/17 1234\n{}\n", "format '17'"),
        (b"tuf-ceremony-bundle/2 zstd\n(\xb5/\xfd", "'zstd'"),
        (b"tuf-ceremony-bundle/2 brotli\n....", "'brotli'"),
        (b"tuf-ceremony-bundle/2 \x1b[2J\n", "header"),
        (b"tuf-ceremony-bundle/1 lzma\n", "header"),
        (b"tuf-ceremony-bundle/2 12\n", "header"),
        (b"PK\x03\x04", "not a tuf-ceremony bundle"),
    ],
)
def test_unknown_format_or_compression_refused_by_name(data: bytes, named: str) -> None:
    with pytest.raises(TransferError, match=named) as info:
        Bundle.from_bytes(data)
    assert info.value.fix


def test_unknown_payload_refused_by_name() -> None:
    with pytest.raises(TransferError, match="neither") as info:
        bundle_from_payload(b"\x89PNG\r\n\x1a\n")
    assert "89504e47" in info.value.problem


# --- format 2 tampered ---------------------------------------------------------------


def _document() -> bytes:
    return _bundle([BundleFile("a.json", b'{"a": 1}' * 50), BundleFile("b.json", b"7")]).to_bytes()


def test_format2_truncated_or_extended_refused() -> None:
    data = _document()
    with pytest.raises(TransferError, match="truncated"):
        Bundle.from_bytes(data[:-1])
    with pytest.raises(TransferError, match="truncated"):
        Bundle.from_bytes(data[: len(data) // 2])
    with pytest.raises(TransferError, match="extra data"):
        Bundle.from_bytes(data + b"\x00")


def test_format2_every_flipped_byte_refused() -> None:
    data = _document()
    start = data.index(b"\n") + 1
    for index in range(start, len(data)):
        changed = bytearray(data)
        changed[index] ^= 0x20
        with pytest.raises(TransferError):
            Bundle.from_bytes(bytes(changed))


def _format2(inner: bytes) -> bytes:
    return b"tuf-ceremony-bundle/2 lzma\n" + codec.compress("lzma", inner)


def _manifest(files: list[tuple[str, int, str]], **extra: object) -> bytes:
    doc = _bundle([]).manifest()
    doc["files"] = [{"name": n, "length": length, "sha256": d} for n, length, d in files]
    doc.update(extra)
    return encode_canonical(doc).encode()


def test_format2_names_sharing_a_hash_with_other_lengths_refused() -> None:
    digest = hashlib.sha256(b"abc").hexdigest()
    manifest = _manifest([("a.json", 3, digest), ("b.json", 2, digest)])
    inner = b"%d\n%s\nabc" % (len(manifest), manifest)
    with pytest.raises(TransferError, match="manifest says 2"):
        Bundle.from_bytes(_format2(inner))


def test_inflating_stops_at_what_the_manifest_lists() -> None:
    digest = hashlib.sha256(b"abc").hexdigest()
    manifest = _manifest([("a.json", 3, digest)])
    bomb = b"%d\n%s\nabc" % (len(manifest), manifest) + bytes(64 * 1024 * 1024)
    document = b"tuf-ceremony-bundle/2 lzma\n" + lzma.compress(
        bomb, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 1}]
    )
    assert len(document) < 100_000
    with pytest.raises(TransferError, match="extra data"):
        Bundle.from_bytes(document)


# --- limits ----------------------------------------------------------------------------


def _format1(manifest: bytes, data: bytes = b"") -> bytes:
    return b"tuf-ceremony-bundle/1 %d\n%s\n%s" % (len(manifest), manifest, data)


def test_manifest_nested_deep_refused() -> None:
    deep = b'{"files":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for document in (_format1(deep), _format2(b"%d\n%s\n" % (len(deep), deep))):
        with pytest.raises(TransferError, match="too deep"):
            Bundle.from_bytes(document)


def test_too_many_files_refused() -> None:
    digest = hashlib.sha256(b"").hexdigest()
    files = [(f"f{n}", 0, digest) for n in range(MAX_FILES + 1)]
    with pytest.raises(TransferError, match=f"more than the {MAX_FILES}"):
        Bundle.from_bytes(_format1(_manifest(files)))


def test_more_data_than_a_bundle_may_hold_refused_before_reading_it() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    files = [("a", MAX_DATA // 2 + 1, digest), ("b", MAX_DATA // 2 + 1, digest)]
    manifest = _manifest(files)
    for document in (_format1(manifest), _format2(b"%d\n%s\n" % (len(manifest), manifest))):
        with pytest.raises(TransferError, match=f"more than the {MAX_DATA}"):
            Bundle.from_bytes(document)


def test_manifest_length_beyond_the_limit_refused() -> None:
    with pytest.raises(TransferError, match="manifest"):
        Bundle.from_bytes(b"tuf-ceremony-bundle/1 999999999\n{}")
    with pytest.raises(TransferError, match="manifest length"):
        Bundle.from_bytes(_format2(b"999999999\n{}"))


# --- what may sit where a bundle should be --------------------------------------------


def test_fifo_where_a_bundle_file_should_be(tmp_path: Path, no_hang: None) -> None:
    fifo = tmp_path / "bundle"
    os.mkfifo(fifo)
    with pytest.raises(TransferError, match="not a regular file"):
        read_path(fifo)


def test_device_where_a_bundle_file_should_be(no_hang: None) -> None:
    with pytest.raises(TransferError, match="not a regular file"):
        read_path("/dev/zero")


@pytest.mark.parametrize("name", [MANIFEST_NAME, "SHA256SUMS", "metadata/root.json"])
def test_fifo_inside_a_bundle_directory(tmp_path: Path, no_hang: None, name: str) -> None:
    bundle = _bundle([BundleFile("metadata/root.json", b"{}")])
    out = write_dir(bundle, tmp_path / "export")
    (out / name).unlink()
    os.mkfifo(out / name)
    with pytest.raises(TransferError, match="not a regular file"):
        read_path(out)


def test_oversized_file_in_a_directory_refused_before_reading(tmp_path: Path) -> None:
    out = write_dir(_bundle([BundleFile("a.json", b"{}")]), tmp_path / "export")
    with open(out / "a.json", "r+b") as handle:
        handle.truncate(10 * 1024 * 1024 * 1024)  # sparse: 10 GiB that take no space
    with pytest.raises(TransferError, match="10737418240 bytes, the bundle's manifest says 2"):
        read_path(out)


def test_oversized_bundle_file_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.bundle"
    with open(path, "wb") as handle:
        handle.truncate(bundle_mod.MAX_DOCUMENT + 1)
    with pytest.raises(TransferError, match="more than the"):
        read_path(path)


# --- a missing parent: the stick is not mounted ---------------------------------------


def test_missing_parent_is_refused_not_created(tmp_path: Path) -> None:
    bundle = _bundle([BundleFile("a.json", b"{}")])
    stick = tmp_path / "media" / "usb"
    for write in (lambda: write_dir(bundle, stick / "out"), lambda: write_files({}, stick / "q")):
        with pytest.raises(TransferError, match="is the USB stick mounted") as info:
            write()
        assert str(stick) in info.value.problem and info.value.fix
    assert not (tmp_path / "media").exists()
    (tmp_path / "media").write_text("a file, not a folder")
    with pytest.raises(TransferError, match="is not a folder"):
        write_dir(bundle, tmp_path / "media" / "out")


def test_write_files_refuses_unsafe_names(tmp_path: Path) -> None:
    with pytest.raises(TransferError, match=r"'\.\.'"):
        write_files({"../x.png": b""}, tmp_path / "q")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
