"""Reading frames back from image files, a video, or a camera.

zxing-cpp reads the symbols (the `receive` extra) and OpenCV grabs video and
camera frames (the `camera` extra); both are imported only when used, so the
air-gapped side, which only shows frames, needs neither. Every source feeds
one FountainDecoder and stops as soon as a payload is rebuilt and verified;
frames of other transfers seen on the way are reported in ``Received.others``.
A source that ends before any transfer completed raises TransferIncomplete
(a failed check, exit 1), whatever front end reads it.

Image files come from outside: only regular files of at most
``MAX_IMAGE_BYTES`` are read, of at most ``MAX_IMAGE_PIXELS`` pixels, in
the formats a camera or a scanner writes; Pillow's own limits (its
decompression-bomb check, ``PngImagePlugin.MAX_TEXT_CHUNK`` for text chunks
that inflate) end in our error, not in a traceback or a memory blow-up.

    read_texts(image) -> list[str]
    read_image_file(path) -> list[str]
    image_files(paths) -> list[Path]
    receive_images(paths, *, expect=None, progress=None) -> Received
    receive_video(path, *, expect=None, progress=None) -> Received
    receive_camera(index=0, *, expect=None, progress=None, should_stop=None) -> Received
"""

from __future__ import annotations

import importlib
import io
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

from ceremony.errors import BadInput, TransferError, TransferIncomplete
from ceremony.fsutil import read_bounded
from ceremony.transfer.frames import FountainDecoder, Progress, TransferSeen

MAX_IMAGE_BYTES = 32 * 1024 * 1024
"""Largest image file read: a phone photo of a printed page is a few MB."""

MAX_IMAGE_PIXELS = 36_000_000
"""Most pixels one image may have (6000 x 6000), checked before it is decoded."""

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")

ProgressCallback = Callable[[Progress], None]
"""Called after every image or video frame, with the decoder's counters."""


@dataclass(frozen=True)
class Received:
    """A verified payload and what to show the person comparing screens."""

    payload: bytes
    transfer_id: str
    short_hash: str
    progress: Progress
    others: tuple[TransferSeen, ...] = field(default=())


def _import(name: str, extra: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise TransferError(
            f"{what} is not installed, so QR frames cannot be read here",
            f"install the '{extra}' extra: pip install 'tuf-ceremony[{extra}]'",
        ) from None


def _zxing() -> ModuleType:
    return _import("zxingcpp", "receive", "zxing-cpp (the QR reader)")


def _cv2() -> ModuleType:
    return _import("cv2", "camera", "OpenCV (needed for video and cameras)")


def read_texts(image: Any) -> list[str]:
    """Texts of every QR symbol found in a PIL image or an OpenCV frame."""
    zxing = _zxing()
    found = zxing.read_barcodes(image, formats=zxing.BarcodeFormat.QRCode)
    return [barcode.text for barcode in found if barcode.valid]


def read_image_file(path: Path | str) -> list[str]:
    """Texts of every QR symbol in one image file (a frame, a photo, a scanned page)."""
    try:
        data = read_bounded(Path(path), MAX_IMAGE_BYTES, "the image")
    except BadInput as error:
        raise TransferError(error.problem, "pass PNG or JPEG files of the frames") from None
    return read_texts(_decoded(data, path))


def _decoded(data: bytes, path: Path | str) -> Image.Image:
    """A grey-scale image, refused by its size before its pixels are decoded."""
    fix = "pass PNG or JPEG files of the frames"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise TransferError(
                        f"the image {path} is {width}x{height} pixels, more than the "
                        f"{MAX_IMAGE_PIXELS} this tool decodes",
                        "photograph or scan the codes at a lower resolution",
                    )
                image.load()
                return image.convert("L")
    except TransferError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TransferError(
            f"the image {path} has more pixels than the {MAX_IMAGE_PIXELS} this tool decodes",
            "photograph or scan the codes at a lower resolution",
        ) from None
    except Exception as exc:  # a hostile image may break Pillow in many ways
        raise TransferError(f"cannot read the image {path}: {exc}", fix) from None


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"})


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """Images given directly or inside directories (in name order), refusing a PDF
    (its pages must become images first) and paths that do not exist."""
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.suffix.lower() == ".pdf":
            raise BadInput(
                f"{path} is a PDF: its pages must be scanned or turned into images first",
                f"for example: pdftoppm -png -r 150 {path} page",
            )
        elif path.exists():
            found.append(path)
        else:
            raise BadInput(f"{path} does not exist", "give QR image files or directories of them")
    if not found:
        raise BadInput("no QR images were given", "give PNG or JPEG files of the codes")
    return found


def _offer(decoder: FountainDecoder, texts: list[str], progress: ProgressCallback | None) -> bool:
    for text in texts:
        decoder.add(text)
        if decoder.complete:
            break
    if progress is not None:
        progress(decoder.progress())
    return decoder.complete


def _finish(decoder: FountainDecoder, source: str) -> Received:
    if not decoder.complete:
        seen = decoder.progress()
        others = "".join(f"; {describe_other(other)}" for other in decoder.others())
        raise TransferIncomplete(
            f"{source} ended before the transfer was complete: {seen.received} of "
            f"{seen.k or '?'} symbols ({seen.foreign} foreign, {seen.corrupt} corrupt frames)"
            f"{others}",
            "scan more frames (the sender can show or export fresh ones) and try again",
        )
    return Received(
        payload=decoder.result(),
        transfer_id=decoder.transfer_id or "",
        short_hash=decoder.short_hash or "",
        progress=decoder.progress(),
        others=tuple(decoder.others()),
    )


def describe_other(other: TransferSeen) -> str:
    """One line about another transfer whose frames were seen, for the report."""
    text = f"transfer {other.transfer_id}: {other.received} of {other.k} symbols"
    if other.failure:
        text += f", rebuilt but refused ({other.failure})"
    return text


def receive_images(
    paths: Iterable[Path | str],
    *,
    expect: str | None = None,
    progress: ProgressCallback | None = None,
) -> Received:
    """Rebuild a payload from image files, stopping at the first that completes it.

    `paths` may be lazy; files after the completing one are never opened.
    """
    decoder = FountainDecoder(expect)
    _zxing()
    for path in paths:
        if _offer(decoder, read_image_file(path), progress):
            break
    return _finish(decoder, "the images")


def receive_video(
    path: Path | str,
    *,
    expect: str | None = None,
    progress: ProgressCallback | None = None,
) -> Received:
    """Rebuild a payload from a recorded video of the sender's screen."""
    decoder = FountainDecoder(expect)
    _zxing()
    if not Path(path).exists():
        raise TransferError(f"the video {path} does not exist", "check the path")
    if not Path(path).is_file():
        raise TransferError(f"the video {path} is not a regular file", "give a video file")
    capture = _cv2().VideoCapture(str(path))
    try:
        _check_opened(capture, f"the video {path}", "check that it is a video OpenCV can read")
        _drain(capture, decoder, progress, None)
    finally:
        capture.release()
    return _finish(decoder, "the video")


def receive_camera(
    index: int = 0,
    *,
    expect: str | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Received:
    """Rebuild a payload from a live camera until complete or `should_stop()` says so."""
    decoder = FountainDecoder(expect)
    _zxing()
    capture = _cv2().VideoCapture(index)
    try:
        _check_opened(capture, f"camera {index}", "check the camera number and that it is free")
        _drain(capture, decoder, progress, should_stop)
    finally:
        capture.release()
    return _finish(decoder, f"camera {index}")


def _check_opened(capture: Any, what: str, fix: str) -> None:
    if not capture.isOpened():
        raise TransferError(f"cannot open {what}", fix)


def _drain(
    capture: Any,
    decoder: FountainDecoder,
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    while should_stop is None or not should_stop():
        ok, frame = capture.read()
        if not ok:
            return
        if _offer(decoder, read_texts(frame), progress):
            return
