"""A bundle as QR frames and back: the policy every front end shares.

The command line, the TUI and the benchmarks all show or save the same
frames, so what would otherwise be decided in each of them lives here:
what payload a bundle travels as (its format-2 document, which compresses
itself; older senders zlib-wrapped a format-1 document, and both read back),
which QR mask each frame gets, how frames become PNG, SVG or PDF files in
a directory that appears whole or not at all, which QR version fits a
terminal, and what the ceremony record says about a QR export.

It loads the QR, fountain-code and image libraries only when a function
needs them, so the command line can read its constants cheaply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.errors import TransferError
from ceremony.transfer import codec
from ceremony.transfer.bundle import MAGIC_PREFIX, MAX_DOCUMENT, Bundle, write_files

if TYPE_CHECKING:
    from ceremony.transfer.frames import FountainEncoder
    from ceremony.transfer.qrrender import Matrix
    from ceremony.workspace import Workspace

DEFAULT_VERSION = 20
"""QR version of frame files unless asked otherwise: 819 payload bytes a frame."""

BEST_MASK_UP_TO = 15
"""Above this version choosing the best mask costs 4x; a fixed, cycling mask
reads as well and keeps files and the terminal player fast."""

FORMATS = ("png", "svg", "pdf")
STATUS_LINES = 2
"""Terminal lines kept under the symbol for the status line."""


# --- payload ----------------------------------------------------------------------


def payload_of(bundle: Bundle) -> bytes:
    """What the frames carry: the bundle document, already compressed."""
    return bundle.to_bytes()


def bundle_from_payload(payload: bytes) -> Bundle:
    """The bundle a received payload holds: a document, or a zlib-wrapped one
    (senders before bundle format 2); anything else is refused by its first bytes."""
    if payload.startswith(MAGIC_PREFIX):
        return Bundle.from_bytes(payload)
    if codec.looks_like_zlib(payload):
        return Bundle.from_bytes(codec.inflate_zlib(payload, MAX_DOCUMENT))
    raise TransferError(
        "the received payload is neither a tuf-ceremony bundle nor a zlib stream "
        f"(it begins with {payload[:8].hex()})",
        "check that the sender runs tuf-ceremony, and export again",
    )


def encoder_for(bundle: Bundle, version: int = DEFAULT_VERSION, ecc: str = "L") -> FountainEncoder:
    """The fountain encoder of a bundle at one QR version and error correction level."""
    from ceremony.transfer.frames import FountainEncoder

    return FountainEncoder(payload_of(bundle), version=version, ecc=ecc)


# --- symbols and files --------------------------------------------------------------


def mask_for(version: int, index: int) -> int | None:
    """The QR mask of frame ``index``: the best one up to BEST_MASK_UP_TO, else cycling."""
    return None if version <= BEST_MASK_UP_TO else index % 8


def frame_matrix(text: str, version: int, ecc: str, index: int) -> Matrix:
    """The QR symbol of one frame, with the mask policy above."""
    from ceremony.transfer import qrrender

    return qrrender.qr_matrix(text, version=version, ecc=ecc, mask=mask_for(version, index))


def frame_files(encoder: FountainEncoder, count: int, fmt: str, title: str) -> dict[str, bytes]:
    """``count`` frames as files: ``frame-0001.png`` ... (or .svg), or one ``frames.pdf``."""
    from ceremony.transfer import qrrender

    if fmt not in FORMATS:
        raise TransferError(f"{fmt!r} is not a frame file format", f"choose {', '.join(FORMATS)}")
    texts = encoder.frames(count)
    matrices = [frame_matrix(t, encoder.version, encoder.ecc, i) for i, t in enumerate(texts)]
    if fmt == "pdf":
        captions = [
            f"frame {i + 1} of {count}   K={encoder.k}   {encoder.short_hash}" for i in range(count)
        ]
        return {"frames.pdf": qrrender.render_pdf(matrices, captions=captions, title=title)}
    digits = max(4, len(str(count)))
    if fmt == "svg":
        return {
            f"frame-{i + 1:0{digits}d}.svg": qrrender.render_svg(m, scale=4, border=4).encode()
            for i, m in enumerate(matrices)
        }
    return {
        f"frame-{i + 1:0{digits}d}.png": qrrender.render_png(m, scale=4, border=4)
        for i, m in enumerate(matrices)
    }


@dataclass(frozen=True)
class FrameExport:
    """QR frame files written for a bundle: where, how many, at which version."""

    target: Path
    encoder: FountainEncoder
    count: int
    fmt: str


def export_frames(
    ws: Workspace,
    bundle: Bundle,
    directory: str | os.PathLike[str],
    *,
    fmt: str = "png",
    version: int | None = None,
    ecc: str = "L",
    count: int | None = None,
) -> FrameExport:
    """Write the frame files of a bundle into a new directory, then record the export.

    By default as many frames as let any 70% of them rebuild the bundle.
    The directory's parent must exist (an unmounted stick is refused).
    """
    encoder = encoder_for(bundle, version or DEFAULT_VERSION, ecc)
    count = count or encoder.default_count
    title = f"tuf-ceremony {bundle.purpose} bundle for {bundle.repository}: {encoder.short_hash}"
    target = write_files(frame_files(encoder, count, fmt, title), directory)
    record_qr_export(ws, bundle, encoder, count, medium=f"qr-{fmt}", destination=str(target))
    return FrameExport(target, encoder, count, fmt)


def qr_details(encoder: FountainEncoder, count: int) -> dict[str, Any]:
    """What the ceremony record says about frames shown or saved."""
    return {
        "transfer_sha256": encoder.sha256.hex(),
        "k": encoder.k,
        "frames": count,
        "qr_version": encoder.version,
        "ecc": encoder.ecc,
    }


def record_qr_export(
    ws: Workspace,
    bundle: Bundle,
    encoder: FountainEncoder,
    count: int,
    *,
    medium: str,
    destination: str,
) -> None:
    """The record of a bundle that left as QR frames (files, or a screen)."""
    from ceremony.transfer import exchange

    exchange.record_export(
        ws, bundle, medium=medium, destination=destination, **qr_details(encoder, count)
    )


# --- the terminal -------------------------------------------------------------------


@dataclass(frozen=True)
class TerminalFit:
    """The QR version to play in a terminal, and a warning when it will not fit."""

    version: int
    warning: str | None = None


def terminal_version(columns: int, lines: int, asked: int | None = None) -> TerminalFit:
    """The largest version that fits ``columns`` x ``lines``, or the one asked for
    (with a warning when its symbol and status line do not fit)."""
    from ceremony.transfer import qrrender

    if not asked:
        version = qrrender.largest_version_for_terminal(
            columns, lines, reserved_lines=STATUS_LINES
        )
        return TerminalFit(version)
    width, height = qrrender.terminal_size_for(asked)
    if width <= columns and height + STATUS_LINES <= lines:
        return TerminalFit(asked)
    return TerminalFit(
        asked,
        f"a version {asked} code needs {width}x{height + STATUS_LINES} characters, "
        f"this terminal has {columns}x{lines}: enlarge the window or choose "
        "a smaller --version, or the code will not scan",
    )
