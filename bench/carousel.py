"""The carousel baseline: fixed chunks shown in a loop, as BBQr and many wallets do.

The payload is cut into K chunks; frame i shows chunk i mod K behind an
8-character BBQr-style header::

    B$ <encoding> <type> <total: 2 base-36 digits> <index: 2 base-36 digits> <data>

``encoding`` is ``2`` (BBQr's unpadded Base32, 5 bits per alphanumeric
character, so at best 8.8 bits per byte: 90.9% of byte mode) or ``4``
(Base45, not part of BBQr, offered to separate the cost of the encoding
from the cost of the carousel). ``type`` is ``B`` for our binary payload.
BBQr allows at most 1295 parts (two base-36 digits); beyond that the
counts widen to three digits, which BBQr itself cannot express.

The receiver needs every distinct chunk: a chunk missed costs a whole lap,
which is what the fountain codes avoid.
"""

from __future__ import annotations

import base64
import random

from ceremony.transfer import base45

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ENCODINGS = ("2", "4")
BBQR_MAX_PARTS = 36 * 36 - 1


def _base36(value: int, width: int) -> str:
    out = ""
    for _ in range(width):
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
    return out


def _encode(data: bytes, encoding: str) -> str:
    if encoding == "2":
        return base64.b32encode(data).decode("ascii").rstrip("=")
    return base45.encode(data)


def _decode(text: str, encoding: str) -> bytes:
    if encoding == "2":
        return base64.b32decode(text + "=" * (-len(text) % 8))
    return base45.decode(text)


def _encoded_len(size: int, encoding: str) -> int:
    return -(-size * 8 // 5) if encoding == "2" else base45.encoded_length(size)


def header_len(parts: int) -> int:
    """Header characters: 4, plus 2 digits each for total and index (3 past BBQr's limit)."""
    return 4 + 2 * _digits_for(parts)


def _digits_for(parts: int) -> int:
    return 2 if parts <= BBQR_MAX_PARTS else 3


def chunk_size_for(chars: int, payload_len: int, encoding: str = "2") -> int:
    """The largest chunk (a multiple of 5 bytes for Base32) whose frame fits ``chars``."""
    step = 5 if encoding == "2" else 2
    size = 0
    for digits in (2, 3):
        room = chars - 4 - 2 * digits
        size = room * 5 // 8 if encoding == "2" else base45.decoded_length(room)
        size -= size % step
        if _digits_for(-(-payload_len // max(size, 1))) == digits:
            break
    if size < step:
        raise ValueError("no chunk fits that many characters")
    return size


class CarouselEncoder:
    """Frames of a payload, chunk i mod K for frame i."""

    def __init__(self, payload: bytes, chars: int, encoding: str = "2") -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding is one of {ENCODINGS}")
        self.encoding = encoding
        self.chunk_size = chunk_size_for(chars, len(payload), encoding)
        self.chunks = [
            payload[i : i + self.chunk_size] for i in range(0, len(payload), self.chunk_size)
        ] or [b""]
        self.k = len(self.chunks)
        self.digits = _digits_for(self.k)

    @property
    def bbqr_compatible(self) -> bool:
        """Whether the part count fits BBQr's two base-36 digits."""
        return self.digits == 2

    def frame(self, number: int) -> str:
        """Frame ``number`` of the endless loop."""
        index = number % self.k
        header = f"B${self.encoding}B{_base36(self.k, self.digits)}{_base36(index, self.digits)}"
        return header + _encode(self.chunks[index], self.encoding)

    def frame_len(self) -> int:
        """Characters of the longest frame."""
        return header_len(self.k) + _encoded_len(self.chunk_size, self.encoding)


class CarouselDecoder:
    """Keeps each distinct chunk until all K are in; skips what does not parse."""

    def __init__(self) -> None:
        self.k: int | None = None
        self.chunks: dict[int, bytes] = {}
        self.received = 0
        self.rejected = 0
        self.result: bytes | None = None

    @property
    def done(self) -> bool:
        """Whether every chunk has arrived."""
        return self.result is not None

    def add(self, text: str) -> bool:
        """Take one scanned frame; True if it was a new chunk."""
        parsed = self._parse(text)
        if parsed is None:
            self.rejected += 1
            return False
        total, index, data = parsed
        if self.k is None:
            self.k = total
        if total != self.k or self.done:
            return False
        self.received += 1
        if index in self.chunks:
            return False
        self.chunks[index] = data
        if len(self.chunks) == self.k:
            self.result = b"".join(self.chunks[i] for i in range(self.k))
        return True

    @staticmethod
    def _parse(text: str) -> tuple[int, int, bytes] | None:
        if not text.startswith("B$") or len(text) < 8 or text[2] not in ENCODINGS:
            return None
        for digits in (2, 3):
            try:
                total = int(text[4 : 4 + digits], 36)
                index = int(text[4 + digits : 4 + 2 * digits], 36)
            except ValueError:
                continue
            if _digits_for(total) == digits and index < total:
                try:
                    return total, index, _decode(text[4 + 2 * digits :], text[2])
                except ValueError:
                    return None
        return None


def frames_needed(k: int, loss: float, rng: random.Random, join: int | None = None) -> int:
    """Frames received until all K chunks are in, joining at ``join`` (random if None).

    Only positions matter, so this counts without encoding: it is what the
    decoder above does, frame by frame, with i.i.d. loss.
    """
    position = rng.randrange(k) if join is None else join % k
    missing = set(range(k))
    received = 0
    while missing:
        if rng.random() >= loss:
            received += 1
            missing.discard(position)
        position = (position + 1) % k
    return received
