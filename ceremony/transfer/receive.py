"""Reading frames back from image files, a video, or a camera.

zxing-cpp reads the symbols (the `receive` extra) and OpenCV grabs video and
camera frames (the `camera` extra); both are imported only when used, so the
air-gapped side, which only shows frames, needs neither. Every source feeds
one FountainDecoder and stops as soon as the payload is rebuilt and verified.

    read_texts(image) -> list[str]
    read_image_file(path) -> list[str]
    receive_images(paths, *, expect=None, progress=None) -> Received
    receive_video(path, *, expect=None, progress=None) -> Received
    receive_camera(index=0, *, expect=None, progress=None, should_stop=None) -> Received
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image, UnidentifiedImageError

from ceremony.errors import TransferError
from ceremony.transfer.frames import FountainDecoder, Progress

ProgressCallback = Callable[[Progress], None]
"""Called after every image or video frame, with the decoder's counters."""


@dataclass(frozen=True)
class Received:
    """A verified payload and what to show the person comparing screens."""

    payload: bytes
    transfer_id: str
    short_hash: str
    progress: Progress


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
        with Image.open(path) as image:
            image.load()
            return read_texts(image.convert("L"))
    except (OSError, UnidentifiedImageError) as exc:
        raise TransferError(
            f"cannot read the image {path}: {exc}", "pass PNG or JPEG files of the frames"
        ) from None


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
        raise TransferError(
            f"{source} ended before the transfer was complete: {seen.received} of "
            f"{seen.k or '?'} symbols ({seen.foreign} foreign, {seen.corrupt} corrupt frames)",
            "scan more frames (the sender can show or export fresh ones) and try again",
        )
    return Received(
        payload=decoder.result(),
        transfer_id=decoder.transfer_id or "",
        short_hash=decoder.short_hash or "",
        progress=decoder.progress(),
    )


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
    if not Path(path).is_file():
        raise TransferError(f"the video {path} does not exist", "check the path")
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
