"""Property tests of the parsers of outside data in the transfer layer.

Whatever bytes arrive as a bundle (a file, a directory's bundle.json, a
received payload) and whatever text a QR reader returns, the outcome is a
parsed value or our own TransferError: never another exception, a hang or
a blow-up. Inputs are random, and mutations of valid documents and frames
(which reach deeper than random bytes do).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from securesystemslib.formats import encode_canonical

from ceremony.errors import TransferError
from ceremony.transfer import base45, codec
from ceremony.transfer.bundle import Bundle, BundleFile, parse_manifest
from ceremony.transfer.frames import (
    MAX_FOLLOWED,
    PREFIX,
    FountainDecoder,
    FountainEncoder,
    Frame,
    format_frame,
    parse_frame,
)
from ceremony.transfer.qr import bundle_from_payload

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

VALID = Bundle(
    "partial",
    "example-repo",
    [
        BundleFile("staged/root.json", b'{"signatures":[],"signed":{"_type":"root"}}\n'),
        BundleFile("metadata/root.json", b'{"x": 1}' * 20),
        BundleFile("metadata/1.root.json", b'{"x": 1}' * 20),
        BundleFile("transcripts/a.jsonl", b""),
    ],
    created="2026-11-27T20:00:00Z",
)
FORMAT1 = VALID.format1_bytes()
FORMAT2 = VALID.to_bytes()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


def _parses_or_refuses(data: bytes) -> None:
    try:
        bundle = Bundle.from_bytes(data)
    except TransferError as error:
        assert error.problem and error.fix
        return
    assert isinstance(bundle, Bundle)
    assert Bundle.from_bytes(bundle.to_bytes()) == bundle  # what parses, round-trips


@st.composite
def mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """A valid document with a few bytes flipped, cut, inserted or deleted."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        index = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[index] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[index:]
        elif kind == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[index : index + draw(st.integers(1, 8))]
    return bytes(data)


# --- bundles ---------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=2000))
@example(b"")
@example(b"tuf-ceremony-bundle/")
@example(b"tuf-ceremony-bundle/2 lzma\n")
@example(b"tuf-ceremony-bundle/1 0\n\n")
def test_any_bytes_parse_or_are_refused(data: bytes) -> None:
    _parses_or_refuses(data)


@SETTINGS
@given(mutations(FORMAT1))
def test_mutated_format1_documents(data: bytes) -> None:
    _parses_or_refuses(data)


@SETTINGS
@given(mutations(FORMAT2))
def test_mutated_format2_documents(data: bytes) -> None:
    _parses_or_refuses(data)


@SETTINGS
@given(st.binary(max_size=300))
def test_any_compressed_body_after_a_format2_header(body: bytes) -> None:
    _parses_or_refuses(b"tuf-ceremony-bundle/2 lzma\n" + body)


@SETTINGS
@given(st.binary(max_size=500))
def test_any_inflated_body_of_format2(inner: bytes) -> None:
    _parses_or_refuses(b"tuf-ceremony-bundle/2 lzma\n" + codec.compress("lzma", inner))


@st.composite
def manifests(draw: st.DrawFn) -> bytes:
    """Manifests close to real ones, with fields replaced by any JSON."""
    doc = VALID.manifest()
    for key in draw(st.lists(st.sampled_from(sorted(doc)), max_size=3)):
        doc[key] = draw(json_values)
    files = doc.get("files")
    if draw(st.booleans()) and isinstance(files, list) and files and isinstance(files[0], dict):
        entry = dict(files[0])
        field = draw(st.sampled_from(["name", "length", "sha256", "extra"]))
        entry[field] = draw(json_values)
        doc["files"][0] = entry
    if draw(st.booleans()):
        doc = draw(json_values)
    try:
        return encode_canonical(doc).encode()
    except Exception:
        return json.dumps(doc).encode()


@SETTINGS
@given(manifests(), st.binary(max_size=200))
def test_manifests_of_any_shape(manifest: bytes, data: bytes) -> None:
    with contextlib.suppress(TransferError):
        parse_manifest(manifest)
    _parses_or_refuses(b"tuf-ceremony-bundle/1 %d\n%s\n%s" % (len(manifest), manifest, data))
    inner = b"%d\n%s\n%s" % (len(manifest), manifest, data)
    _parses_or_refuses(b"tuf-ceremony-bundle/2 lzma\n" + codec.compress("lzma", inner))


@SETTINGS
@given(st.binary(max_size=1000))
@example(zlib.compress(b"not a bundle"))
@example(zlib.compress(FORMAT2))
def test_any_received_payload(payload: bytes) -> None:
    with contextlib.suppress(TransferError):
        assert isinstance(bundle_from_payload(payload), Bundle)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(["a.json", "b.json", "c/d.json"]), st.binary(max_size=50)),
        max_size=6,
        unique_by=lambda row: row[0],
    )
)
def test_every_bundle_round_trips_byte_exact(rows: list[tuple[str, bytes]]) -> None:
    bundle = Bundle("publish", "r", [BundleFile(n, d) for n, d in rows], created=VALID.created)
    again = Bundle.from_bytes(bundle.to_bytes())
    assert {f.name: f.data for f in again.files} == dict(rows)
    assert Bundle.from_bytes(bundle.format1_bytes()) == again
    assert again.digest() == hashlib.sha256(bundle.format1_bytes()).hexdigest()


# --- QR frames ---------------------------------------------------------------------------

ENCODER = FountainEncoder(b"a payload of a few bytes" * 30, version=5)
FRAMES = ENCODER.frames(ENCODER.k + 3)

frame_texts = (
    st.text(max_size=300)
    | st.text(alphabet=base45.ALPHABET, max_size=400).map(lambda t: PREFIX + t)
    | st.sampled_from(FRAMES).flatmap(
        lambda f: st.integers(0, len(f) - 1).flatmap(
            lambda i: st.sampled_from(base45.ALPHABET).map(lambda c: f[:i] + c + f[i + 1 :])
        )
    )
)


@st.composite
def forged_frames(draw: st.DrawFn) -> str:
    """Well-formed frames (checksum right) with any header values: hostile shapes."""
    return format_frame(
        Frame(
            draw(st.binary(min_size=4, max_size=4)),
            draw(st.integers(0, 0xFFFF)),
            draw(st.integers(0, 0xFFFFFF)),
            draw(st.binary(min_size=1, max_size=200)),
        )
    )


@SETTINGS
@given(frame_texts)
@example("TC1" + "0" * 100_000)
def test_any_text_parses_as_a_frame_or_is_refused(text: str) -> None:
    try:
        frame = parse_frame(text)
    except TransferError:
        return
    assert format_frame(frame) == text


@SETTINGS
@given(st.lists(frame_texts | forged_frames(), max_size=40))
def test_a_decoder_fed_anything_never_raises_and_stays_bounded(texts: list[str]) -> None:
    decoder = FountainDecoder()
    for text in [*texts, *FRAMES]:  # the real transfer arrives after all the noise
        decoder.add(text)
        assert len(decoder._transfers) <= MAX_FOLLOWED
        decoder.progress()
    assert decoder.complete and decoder.result() == b"a payload of a few bytes" * 30


@SETTINGS
@given(st.text(max_size=200))
def test_base45_decodes_or_refuses(text: str) -> None:
    try:
        data = base45.decode(text)
    except TransferError:
        return
    assert base45.encode(data) == text
