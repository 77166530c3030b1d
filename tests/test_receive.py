"""Round trips through real QR images read by zxing-cpp, and the receiving sources."""

from __future__ import annotations

import os
import random
import resource
import signal
import struct
import sys
import types
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from ceremony.errors import TransferError, TransferIncomplete
from ceremony.transfer import base45, qrrender
from ceremony.transfer.frames import (
    PREFIX,
    FountainEncoder,
    Progress,
    decode_payload,
    encode_payload,
)
from ceremony.transfer.receive import (
    MAX_IMAGE_BYTES,
    read_image_file,
    receive_camera,
    receive_images,
    receive_video,
)

pytest.importorskip("zxingcpp")

LOSSES = (0.1, 0.3, 0.5)


def _write_png(job: tuple[str, int, int | None, str]) -> str:
    text, version, mask, path = job
    matrix = qrrender.qr_matrix(text, version=version, mask=mask)
    Path(path).write_bytes(qrrender.render_png(matrix, scale=2, border=4))
    return path


class Stream:
    """One sender's frames as PNG files, rendered only when a receiver needs them."""

    def __init__(self, encoder: FountainEncoder, directory: Path) -> None:
        self.encoder = encoder
        self.directory = directory
        self.version = encoder.version

    def path(self, symbol_id: int) -> Path:
        return self.directory / f"{self.encoder.transfer_id}-{symbol_id}.png"

    def _job(self, symbol_id: int) -> tuple[str, int, int | None, str]:
        # Choosing the best mask costs 4x at high versions; cycling fixed
        # masks there keeps the test quick and puts every mask through the reader.
        mask = None if self.version <= 15 else symbol_id % 8
        return self.encoder.frame(symbol_id), self.version, mask, str(self.path(symbol_id))

    def render(self, symbol_ids: set[int]) -> None:
        jobs = [self._job(i) for i in sorted(symbol_ids) if not self.path(i).exists()]
        with ProcessPoolExecutor(max_workers=2) as pool:
            list(pool.map(_write_png, jobs, chunksize=8))

    def paths(self, symbol_ids: list[int]) -> Iterator[Path]:
        for symbol_id in symbol_ids:
            if not self.path(symbol_id).exists():
                _write_png(self._job(symbol_id))
            yield self.path(symbol_id)


@pytest.mark.parametrize(
    ("size", "version"),
    [(200, 10), (5_000, 15), (100_000, 25), (1_000_000, 40)],
    ids=["200B", "5KB", "100KB", "1MB"],
)
def test_png_round_trip_with_loss_from_mid_stream(size: int, version: int, tmp_path: Path) -> None:
    rng = random.Random(size)
    data = rng.randbytes(size)  # incompressible: the worst case for frame count
    encoder = FountainEncoder(encode_payload(data), version=version)
    k = encoder.k
    start = rng.randrange(1, 2 * k + 2)  # the receiver joins after the first frame
    draws = [rng.random() for _ in range(3 * (k + 6))]
    # One draw per frame and nested loss sets: frames kept at 50% are kept at
    # 30% and 10%, so the three receivers share most of the rendering.
    kept = {loss: [start + i for i, u in enumerate(draws) if u >= loss] for loss in LOSSES}
    stream = Stream(encoder, tmp_path)
    stream.render({i for ids in kept.values() for i in ids[: k + 2]})
    for loss in LOSSES:
        seen: list[Progress] = []
        got = receive_images(stream.paths(kept[loss]), progress=seen.append)
        assert decode_payload(got.payload) == data, loss
        assert got.short_hash == encoder.short_hash
        assert got.transfer_id == encoder.transfer_id
        assert got.progress.received <= k + 2
        assert len(seen) == got.progress.received  # stopped at the completing image
        assert seen[-1].complete and seen[-1].percent == 100.0 and seen[-1].k == k
        assert [p.received for p in seen] == sorted(p.received for p in seen)


def _pngs(texts: list[str], directory: Path, version: int, name: str) -> list[Path]:
    paths = []
    for index, text in enumerate(texts):
        path = directory / f"{name}-{index}.png"
        path.write_bytes(qrrender.render_png(qrrender.qr_matrix(text, version=version)))
        paths.append(path)
    return paths


def test_two_transfers_interleaved(tmp_path: Path) -> None:
    first = FountainEncoder(random.Random(1).randbytes(3000), version=8)
    second = FountainEncoder(random.Random(2).randbytes(2500), version=8)
    a = _pngs(first.frames(first.k + 3), tmp_path, 8, "a")
    b = _pngs(second.frames(second.k + 3), tmp_path, 8, "b")
    mixed = [p for pair in zip(b, a, strict=False) for p in pair]
    got = receive_images(mixed)
    assert got.transfer_id == second.transfer_id
    assert got.progress.foreign == got.progress.received - 1  # b0 a0 b1 a1 ... b(k-1)
    chosen = receive_images(mixed, expect=first.transfer_id)
    assert chosen.payload == random.Random(1).randbytes(3000)
    assert chosen.progress.foreign == chosen.progress.received  # one of b before each of a


def test_garbage_and_corrupt_frames_are_counted(tmp_path: Path) -> None:
    encoder = FountainEncoder(random.Random(4).randbytes(2000), version=8)
    good = encoder.frames(encoder.k + 2)
    body = base45.decode(good[0][len(PREFIX) :])
    tampered = PREFIX + base45.encode(body[:20] + bytes([body[20] ^ 0xFF]) + body[21:])
    garbage = ["HELLO FROM ANOTHER APP", tampered, PREFIX + "GGW" * 20]
    paths = _pngs(garbage, tmp_path, 8, "bad") + _pngs(good, tmp_path, 8, "good")
    got = receive_images(paths)
    assert got.payload == random.Random(4).randbytes(2000)
    assert got.progress.corrupt == 3 and got.progress.foreign == 0


def test_one_image_with_several_symbols(tmp_path: Path) -> None:
    encoder = FountainEncoder(random.Random(5).randbytes(1500), version=6)
    images = [qrrender.to_image(qrrender.qr_matrix(t, version=6)) for t in encoder.frames(3)]
    sheet = Image.new("1", (sum(i.width for i in images), images[0].height), 1)
    for index, image in enumerate(images):
        sheet.paste(image, (index * image.width, 0))
    path = tmp_path / "sheet.png"
    sheet.save(path)
    assert sorted(read_image_file(path)) == sorted(encoder.frames(3))


def test_too_few_images_says_what_is_missing(tmp_path: Path) -> None:
    encoder = FountainEncoder(random.Random(6).randbytes(5000), version=5)
    paths = _pngs(encoder.frames(3), tmp_path, 5, "few")
    with pytest.raises(TransferIncomplete, match=f"3 of {encoder.k} symbols"):
        receive_images(paths)


def test_unreadable_image(tmp_path: Path) -> None:
    path = tmp_path / "not-an-image.png"
    path.write_bytes(b"nope")
    with pytest.raises(TransferError, match="cannot read the image"):
        receive_images([path])


def test_missing_reader_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    with pytest.raises(TransferError, match="zxing-cpp") as caught:
        receive_images([])
    assert caught.value.fix is not None and "[receive]" in caught.value.fix


def test_missing_opencv_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    for call in (lambda: receive_video(video), lambda: receive_camera(0)):
        with pytest.raises(TransferError, match="OpenCV") as caught:
            call()
        assert caught.value.fix is not None and "[camera]" in caught.value.fix


class FakeCapture:
    """Stands in for cv2.VideoCapture: a screen shown at 5 fps, filmed at 15."""

    def __init__(self, images: list[Image.Image]) -> None:
        self.images = [image for image in images for _ in range(3)]
        self.reads = 0
        self.released = False

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, Image.Image | None]:
        if self.reads >= len(self.images):
            return False, None
        self.reads += 1
        return True, self.images[self.reads - 1]

    def release(self) -> None:
        self.released = True


def _fake_cv2(monkeypatch: pytest.MonkeyPatch, images: list[Image.Image]) -> FakeCapture:
    capture = FakeCapture(images)
    module = types.ModuleType("cv2")
    module.VideoCapture = lambda source: capture  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cv2", module)
    return capture


def test_video_stops_when_complete(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    encoder = FountainEncoder(random.Random(7).randbytes(4000), version=7)
    blank = Image.new("L", (200, 200), 255)
    images = [blank] + [
        qrrender.to_image(qrrender.qr_matrix(t, version=7)).convert("L")
        for t in encoder.frames(encoder.k + 6, start=11)
    ]
    capture = _fake_cv2(monkeypatch, images)
    video = tmp_path / "screen.mp4"
    video.write_bytes(b"stand-in")
    seen: list[Progress] = []
    got = receive_video(video, progress=seen.append)
    assert got.payload == random.Random(7).randbytes(4000)
    assert got.progress.duplicates == 2 * (got.progress.received - 1)
    assert capture.reads < len(capture.images) and capture.released
    assert seen[0].frames_seen == 0 and seen[-1].complete


def test_camera_stopped_early_is_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = FountainEncoder(random.Random(8).randbytes(4000), version=7)
    images = [qrrender.to_image(qrrender.qr_matrix(encoder.frame(0), version=7)).convert("L")]
    capture = _fake_cv2(monkeypatch, images * 10)
    with pytest.raises(TransferIncomplete, match="ended before"):
        receive_camera(0, should_stop=lambda: capture.reads >= 4)
    assert capture.released


# --- hostile images and a stray transfer ------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png_with(*chunks: bytes, size: tuple[int, int] = (10, 10)) -> bytes:
    """A valid grey PNG of ``size`` with extra chunks after its header."""
    width, height = size
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    rows = zlib.compress(bytes(width + 1) * min(height, 100), 9)  # short: a bomb need not be whole
    tail = _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + header + b"".join(chunks) + tail


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def test_huge_png_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_with(size=(16000, 16000)))
    before = _peak_mb()
    with pytest.raises(TransferError, match=r"more pixels than the 36000000 this tool decodes"):
        read_image_file(path)
    path.write_bytes(_png_with(size=(7000, 7000)))  # below Pillow's limit, above ours
    with pytest.raises(TransferError, match=r"7000x7000 pixels, more than the 36000000"):
        read_image_file(path)
    assert _peak_mb() - before < 100, "refused without decoding 256 million pixels"


@pytest.mark.parametrize("kind", [b"zTXt", b"iTXt"])
def test_png_text_chunk_that_inflates_to_50_mb_refused(tmp_path: Path, kind: bytes) -> None:
    bomb = zlib.compress(bytes(50_000_000), 9)
    data = b"Comment\x00\x00" + bomb if kind == b"zTXt" else b"Comment\x00\x01\x00\x00\x00" + bomb
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_with(_chunk(kind, data)))
    assert path.stat().st_size < 100_000
    before = _peak_mb()
    with pytest.raises(TransferError, match="cannot read the image") as info:
        read_image_file(path)
    assert "too large" in info.value.problem.lower()
    assert _peak_mb() - before < 40, "the text was never inflated whole"


def test_image_file_too_large_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    with open(path, "wb") as handle:
        handle.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(TransferError, match="more than the"):
        read_image_file(path)


def test_fifo_given_as_an_image_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "frame.png"
    os.mkfifo(fifo)
    signal.alarm(20)  # a hang fails the test instead of the run
    try:
        with pytest.raises(TransferError, match="not a regular file"):
            receive_images([fifo])
    finally:
        signal.alarm(0)


def test_a_stray_frame_first_does_not_spoil_the_right_transfer(tmp_path: Path) -> None:
    stray = FountainEncoder(random.Random(11).randbytes(900), version=8)
    right = FountainEncoder(random.Random(12).randbytes(3000), version=8)
    paths = _pngs([stray.frame(2)], tmp_path, 8, "stray")
    paths += _pngs(right.frames(right.k + 2), tmp_path, 8, "right")
    got = receive_images(paths)
    assert got.payload == random.Random(12).randbytes(3000)
    assert got.transfer_id == right.transfer_id
    assert got.progress.foreign == 1 and got.progress.others == 1
    seen = [(o.transfer_id, o.k, o.received) for o in got.others]
    assert seen == [(stray.transfer_id, stray.k, 1)]


def test_incomplete_receive_names_the_other_transfers(tmp_path: Path) -> None:
    a = FountainEncoder(random.Random(13).randbytes(3000), version=8)
    b = FountainEncoder(random.Random(14).randbytes(3000), version=8)
    paths = _pngs(a.frames(2), tmp_path, 8, "a") + _pngs(b.frames(1), tmp_path, 8, "b")
    with pytest.raises(TransferIncomplete, match=f"transfer {b.transfer_id}: 1 of {b.k} symbols"):
        receive_images(paths)
