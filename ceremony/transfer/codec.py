"""Compression of what crosses the air gap, and inflating it without trusting it.

Bundle documents of format 2 name their compression in their header; this
version writes raw LZMA2 (``lzma``) and reads it back. Measured on real
exports (the rehearsal's root and whole exports, a 50 KB targets export, a
partial-signatures bundle; see docs/bundle-format.md), LZMA2 with
``lc=0, lp=0, pb=0`` is 9-14% smaller than zlib level 9; zstd at its
highest level is 9 bytes smaller on the targets export and 5-6% larger on
the others, so it does not earn a dependency. Older senders wrapped the
whole payload in zlib (RFC 1950); :func:`inflate_zlib` still reads that.

Nothing from outside is inflated without a limit: an :class:`Inflater`
hands out exactly the bytes asked for, so a reader that knows from the
manifest how much data follows never inflates more than that.
"""

from __future__ import annotations

import lzma
import re
import zlib

from ceremony.errors import TransferError

LZMA = "lzma"
WRITTEN = LZMA
"""The compression this version writes."""

READABLE = (LZMA,)
"""Compressions a format-2 bundle may name that this version reads."""

MAX_DICT = 8 * 1024 * 1024
"""LZMA2 dictionary: the encoder's is at most this, so a decoder with this
much always has enough (and the encoder's memory stays under 100 MB)."""

_NAME = re.compile(r"[a-z0-9][a-z0-9.+-]{0,15}")
_LZMA_DECODE = [{"id": lzma.FILTER_LZMA2, "dict_size": MAX_DICT}]
_FIX = "export it again with this tool, or read it with the tuf-ceremony version that made it"


def _lzma_filters(size: int) -> list[dict[str, int]]:
    """LZMA2 at its strongest, literals without context: best on JSON and JSON lines."""
    dict_size = max(4096, min(MAX_DICT, size))
    return [
        {
            "id": lzma.FILTER_LZMA2,
            "preset": 9 | lzma.PRESET_EXTREME,
            "dict_size": dict_size,
            "lc": 0,
            "lp": 0,
            "pb": 0,
        }
    ]


def compress(name: str, data: bytes) -> bytes:
    """``data`` compressed by the named compression (only ``lzma`` is written)."""
    if name != LZMA:
        raise ValueError(f"this version writes {LZMA} only, not {name!r}")
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_lzma_filters(len(data)))


def check_name(name: str) -> str:
    """Refuse a compression this version cannot read, naming it."""
    if name in READABLE:
        return name
    shown = repr(name) if _NAME.fullmatch(name) else repr(name[:16]) + " (malformed)"
    raise TransferError(
        f"the bundle is compressed with {shown}, which this version of tuf-ceremony "
        f"does not read (it reads {', '.join(READABLE)})",
        _FIX,
    )


class Inflater:
    """Reads a compressed stream in exact pieces, never inflating more than asked.

    ``read(n)`` returns exactly ``n`` bytes or refuses the stream as truncated;
    ``finish()`` refuses a stream with data after what the reader expected.
    """

    def __init__(self, name: str, data: bytes) -> None:
        check_name(name)
        self._decoder = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_DECODE)
        self._pending = bytes(data)
        self._buffer = b""

    def _more(self, wanted: int) -> bytes:
        if self._decoder.eof:
            return b""
        data, self._pending = self._pending, b""
        if not data and self._decoder.needs_input:
            return b""
        try:
            return self._decoder.decompress(data, wanted)
        except lzma.LZMAError as error:
            problem = f"the bundle's compressed data is damaged ({error})"
            raise TransferError(problem, _FIX) from None

    def read(self, size: int) -> bytes:
        """Exactly ``size`` inflated bytes; TransferError if the stream ends before."""
        parts, have = [self._buffer[:size]], min(size, len(self._buffer))
        self._buffer = self._buffer[size:]
        while have < size:
            chunk = self._more(size - have)
            if not chunk:
                raise TransferError(
                    "the bundle's compressed data ends before the files its manifest lists: "
                    "it is truncated",
                    "the bundle is truncated: export or receive it again",
                )
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)

    def read_line(self, limit: int) -> bytes | None:
        """Bytes before the next line feed, or None when none comes within ``limit``."""
        line = b""
        while len(line) <= limit:
            byte = self.read(1)
            if byte == b"\n":
                return line
            line += byte
        return None

    def finish(self) -> None:
        """Refuse data after the end, and a stream that does not end where it should."""
        if self._buffer or self._more(1) or not self._decoder.eof or self._decoder.unused_data:
            raise TransferError(
                "the bundle's compressed data does not end where its manifest says: "
                "it is truncated or has extra data",
                "the bundle is damaged or was altered: export or receive it again",
            )


def inflate_zlib(payload: bytes, max_size: int) -> bytes:
    """A whole zlib stream (RFC 1950), refusing truncated, trailing or oversized data."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(payload, max_size)
    except zlib.error as exc:
        raise TransferError(
            f"the received payload is not a zlib stream ({exc})",
            "check that sender and receiver run the same version of the tool",
        ) from None
    if inflater.unconsumed_tail:
        raise TransferError(
            f"the received payload inflates to more than {max_size} bytes",
            "split the bundle, or raise the limit if you expected a bundle this large",
        )
    if not inflater.eof or inflater.unused_data:
        raise TransferError(
            "the received payload is truncated or has bytes after its end",
            "check that sender and receiver run the same version of the tool",
        )
    return data


def looks_like_zlib(payload: bytes) -> bool:
    """A zlib header: deflate, window at most 32 KB, and the header check (RFC 1950)."""
    return (
        len(payload) >= 2
        and payload[0] & 0x0F == 8
        and payload[0] >> 4 <= 7
        and (payload[0] << 8 | payload[1]) % 31 == 0
    )
