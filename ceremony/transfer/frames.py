"""Fountain-coded frames: a payload cut into QR-sized, self-describing pieces.

Why a fountain code: a camera misses frames, joins late and sees repeats.
With RaptorQ (RFC 6330, the `raptorq` package) any K distinct frames (rarely
K+1) rebuild a payload of K source symbols, whichever frames they are and in
any order, so the sender can loop forever with fresh repair symbols and the
receiver needs no back channel. Every frame carries what a receiver needs to
start decoding from it alone. The byte layout is documented in
docs/transfer-format.md; in short::

    "TC1" + Base45( transfer id (4) | K (2) | symbol id (3) | symbol (T) | CRC-16 (2) )

Stable API (used by the command line, the TUI and bench/qr.py):

    capacity_alnum(version: int, ecc: str) -> int
    capacity_bytes(version: int, ecc: str) -> int
    frame_chars(version: int, ecc: str) -> int
    symbol_size_for(version: int, ecc: str) -> int
    default_frame_count(k: int) -> int
    encode_payload(data: bytes) -> bytes
    decode_payload(payload: bytes, *, max_size: int = MAX_UNCOMPRESSED) -> bytes
    parse_frame(text: str) -> Frame
    format_frame(frame: Frame) -> str
    FountainEncoder(payload: bytes, *, version: int = 20, ecc: str = "L")
        .k .symbol_size .version .ecc .transfer_id .sha256 .short_hash
        .default_count .frame(symbol_id) -> str .frames(count, start=0) -> list[str]
        .loop(start=0) -> Iterator[str] .loop_cycle
    FountainDecoder(expect: str | None = None)
        .add(text) -> bool .complete .result() -> bytes .progress() -> Progress
        .k .transfer_id .short_hash .frames_seen .received .duplicates .foreign .corrupt
        .others() -> list[TransferSeen] .dropped

A decoder follows every transfer whose frames it sees and finishes with the
first that completes (a stray frame of another transfer seen first does not
lock it out); the figures are those of the leading transfer.
"""

from __future__ import annotations

import binascii
import hashlib
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import raptorq
from qrcode import constants as qr_constants
from qrcode import util as qr_util

from ceremony.errors import TransferError
from ceremony.transfer import base45, codec

PREFIX = "TC1"
"""Format name and version, in the alphanumeric charset; a new layout gets TC2."""

HEADER_BYTES = 11
"""Bytes of each frame body besides the symbol: id 4, K 2, symbol id 3, CRC 2."""

SEAL_BYTES = 36
"""Bytes in front of the payload inside the coded block: length 4, SHA-256 32."""

MAX_K = 56403
"""RFC 6330's largest source block; we always use exactly one block."""

MAX_BLOCK = 8 * 1024 * 1024
"""Coded block limit keeping `raptorq` to one block and one sub-block."""

MAX_SYMBOL_ID = (1 << 24) - 1
"""RFC 6330 encoding symbol ids are 24 bits."""

LOOP_MEMORY = 64 * 1024 * 1024
"""Symbol bytes a looping encoder keeps before it starts its cycle again."""

MAX_UNCOMPRESSED = 256 * 1024 * 1024
"""Refuse to inflate a payload past this, whatever its header claims."""

_ALIGN = 8  # raptorq rounds symbol sizes down to a multiple of 8
_ECC = {
    "L": qr_constants.ERROR_CORRECT_L,
    "M": qr_constants.ERROR_CORRECT_M,
    "Q": qr_constants.ERROR_CORRECT_Q,
    "H": qr_constants.ERROR_CORRECT_H,
}


# --- QR capacities -----------------------------------------------------------


def _data_bits(version: int, ecc: str) -> int:
    if not isinstance(version, int) or not 1 <= version <= 40:
        raise TransferError(
            f"QR version {version!r} does not exist", "choose a version from 1 to 40"
        )
    level = _ECC.get(str(ecc).upper())
    if level is None:
        raise TransferError(f"QR error correction {ecc!r} is unknown", "choose L or M")
    return qr_util.BIT_LIMIT_TABLE[level][version]


def capacity_alnum(version: int, ecc: str) -> int:
    """Alphanumeric characters one symbol holds (ISO/IEC 18004 table 7)."""
    bits = _data_bits(version, ecc) - 4
    # types-qrcode declares MODE_* as Final[int], not as the literals they are
    bits -= qr_util.length_in_bits(qr_util.MODE_ALPHA_NUM, version)  # type: ignore[arg-type]
    return (bits // 11) * 2 + (1 if bits % 11 >= 6 else 0)


def capacity_bytes(version: int, ecc: str) -> int:
    """Byte-mode capacity: the yardstick our payload per frame is measured against."""
    bits = _data_bits(version, ecc) - 4
    bits -= qr_util.length_in_bits(qr_util.MODE_8BIT_BYTE, version)  # type: ignore[arg-type]
    return bits // 8


def _body_bytes(version: int, ecc: str) -> int:
    return base45.decoded_length(capacity_alnum(version, ecc) - len(PREFIX))


def frame_chars(version: int, ecc: str) -> int:
    """Length of every frame for this version, at most its alphanumeric capacity."""
    return len(PREFIX) + base45.encoded_length(_body_bytes(version, ecc))


def symbol_size_for(version: int, ecc: str) -> int:
    """Symbol bytes per frame, chosen so that every frame fills its QR version."""
    size = _body_bytes(version, ecc) - HEADER_BYTES
    if size < 1:
        raise TransferError(
            f"QR version {version} is too small for a frame", "choose version 2 or above"
        )
    return size


def default_frame_count(k: int) -> int:
    """Frames to produce so that any 70% of them hold K+2 distinct symbols.

    K+2 rather than K because RaptorQ fails to decode from exactly K symbols
    about 1% of the time and from K+2 about once in a million.
    """
    return -(-(k + 2) * 10 // 7)


# --- payload -------------------------------------------------------------------


def encode_payload(data: bytes) -> bytes:
    """A zlib stream (RFC 1950, level 9) of ``data``: how senders before bundle
    format 2 wrapped a bundle. Bundles of format 2 compress themselves and
    travel as they are (see ceremony.transfer.qr); this stays for payloads
    that are not bundles."""
    return zlib.compress(data, 9)


def decode_payload(payload: bytes, *, max_size: int = MAX_UNCOMPRESSED) -> bytes:
    """Inflate a zlib payload, refusing truncated, trailing or oversized data."""
    return codec.inflate_zlib(payload, max_size)


# --- frames --------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One decoded frame: which transfer, its shape, and one encoding symbol."""

    transfer_id: bytes
    k: int
    symbol_id: int
    symbol: bytes


def format_frame(frame: Frame) -> str:
    """Serialise a frame to the text that goes into one QR symbol."""
    body = (
        frame.transfer_id
        + frame.k.to_bytes(2, "big")
        + frame.symbol_id.to_bytes(3, "big")
        + frame.symbol
    )
    return PREFIX + base45.encode(body + _crc16(body).to_bytes(2, "big"))


MAX_FRAME_CHARS = 4296
"""The most characters a QR symbol holds (version 40-L, alphanumeric)."""


def parse_frame(text: str) -> Frame:
    """Parse a frame's text, raising TransferError for anything not well formed."""
    if not isinstance(text, str) or len(text) > MAX_FRAME_CHARS:
        raise TransferError(
            "the QR symbol is not a frame (too long, or not text)",
            "scan only the frames shown by `ceremony export --qr`",
        )
    if not text.startswith(PREFIX):
        raise TransferError(
            "the QR symbol is not a TC1 transfer frame",
            "scan only the frames shown by `ceremony export --qr`",
        )
    body = base45.decode(text[len(PREFIX) :])
    if len(body) < HEADER_BYTES + 1:
        raise TransferError("the frame is too short to hold a symbol", "scan the frame again")
    if _crc16(body[:-2]) != int.from_bytes(body[-2:], "big"):
        raise TransferError("the frame fails its checksum", "scan the frame again")
    return Frame(
        transfer_id=body[:4],
        k=int.from_bytes(body[4:6], "big"),
        symbol_id=int.from_bytes(body[6:9], "big"),
        symbol=body[9:-2],
    )


def _crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as binascii computes it."""
    return binascii.crc_hqx(data, 0xFFFF)


def _padded(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def _check_shape(k: int, symbol_size: int) -> None:
    if not 1 <= k <= MAX_K or k * _padded(symbol_size) > MAX_BLOCK:
        raise TransferError(
            f"a transfer of {k} symbols of {symbol_size} bytes is beyond what one block can carry",
            "use a higher QR version, or move a bundle this large by file",
        )


def _packet(symbol_id: int, symbol: bytes) -> bytes:
    """The RFC 6330 packet raptorq expects: source block 0, 24-bit id, padded symbol."""
    pad = bytes(_padded(len(symbol)) - len(symbol))
    return b"\x00" + symbol_id.to_bytes(3, "big") + symbol + pad


# --- encoder -------------------------------------------------------------------


class FountainEncoder:
    """Produces frames for one payload at one QR version and error correction level.

    The payload is sealed with its length and SHA-256, cut into K symbols of
    `symbol_size` bytes and RaptorQ-coded. Symbol ids 0..K-1 are the source
    symbols; every id above is a fresh repair symbol, so a looping display
    keeps showing frames the receiver has not seen.
    """

    def __init__(self, payload: bytes, *, version: int = 20, ecc: str = "L") -> None:
        self.version = version
        self.ecc = ecc.upper()
        self.symbol_size = symbol_size_for(version, ecc)
        self.sha256 = hashlib.sha256(payload).digest()
        sealed = len(payload).to_bytes(4, "big") + self.sha256 + payload
        self.k = math.ceil(len(sealed) / self.symbol_size)
        _check_shape(self.k, self.symbol_size)
        self._sources = [
            sealed[i * self.symbol_size : (i + 1) * self.symbol_size].ljust(self.symbol_size, b"\0")
            for i in range(self.k)
        ]
        block = b"".join(_packet(0, s)[4:] for s in self._sources)
        self._encoder = raptorq.Encoder.with_defaults(block, _padded(self.symbol_size))
        self._repairs: list[bytes] = []

    @property
    def transfer_id(self) -> str:
        """Hex of the first 4 bytes of the payload's SHA-256, carried in every frame."""
        return self.sha256[:4].hex()

    @property
    def short_hash(self) -> str:
        """What people compare on both screens: 16 hex digits of the payload's SHA-256."""
        return self.sha256[:8].hex()

    @property
    def default_count(self) -> int:
        """Frames to print or save so that any 70% of them rebuild the payload."""
        return default_frame_count(self.k)

    def frame(self, symbol_id: int) -> str:
        """The frame carrying encoding symbol `symbol_id`."""
        if not 0 <= symbol_id <= MAX_SYMBOL_ID:
            raise TransferError(
                f"symbol id {symbol_id} is outside 0..{MAX_SYMBOL_ID}", "ask for fewer frames"
            )
        return format_frame(Frame(self.sha256[:4], self.k, symbol_id, self._symbol(symbol_id)))

    def frames(self, count: int | None = None, start: int = 0) -> list[str]:
        """Frames `start`..`start+count-1`; pass the next `start` to loop with fresh ones."""
        if count is None:
            count = self.default_count
        if count < 0 or start < 0 or start + count - 1 > MAX_SYMBOL_ID:
            raise TransferError(
                f"frames {start}..{start + count - 1} are outside 0..{MAX_SYMBOL_ID}",
                "ask for fewer frames",
            )
        return [self.frame(i) for i in range(start, start + count)]

    def loop(self, start: int = 0) -> Iterator[str]:
        """Frames for a display that plays until stopped, each new to the receiver.

        Symbols are kept in memory once made (raptorq cannot start at an
        arbitrary repair id), so after `loop_cycle` ids it starts over at 0;
        by then any receiver has long had more than K distinct frames.
        """
        symbol_id = start % self.loop_cycle
        while True:
            yield self.frame(symbol_id)
            symbol_id = (symbol_id + 1) % self.loop_cycle

    @property
    def loop_cycle(self) -> int:
        """Distinct frames `loop` shows before repeating: 20 runs of the default count,
        capped to 64 MiB of symbols."""
        cap = max(self.default_count, LOOP_MEMORY // self.symbol_size)
        return min(20 * self.default_count, cap, MAX_SYMBOL_ID + 1)

    def _symbol(self, symbol_id: int) -> bytes:
        if symbol_id < self.k:
            return self._sources[symbol_id]
        index = symbol_id - self.k
        if index >= len(self._repairs):
            self._extend_repairs(max(index + 1, 2 * len(self._repairs), 64))
        return self._repairs[index]

    def _extend_repairs(self, count: int) -> None:
        # raptorq's binding only hands out repair ids from K upwards, so ask for
        # more than needed and keep them: the doubling keeps looping linear.
        packets = self._encoder.get_encoded_packets(count)[self.k :]
        repairs = []
        for index, packet in enumerate(packets):
            symbol = bytes(packet[4 : 4 + self.symbol_size])
            if bytes(packet[:4]) != (self.k + index).to_bytes(4, "big") or any(
                packet[4 + self.symbol_size :]
            ):
                raise TransferError(
                    "raptorq produced a packet this format cannot carry",
                    "report this as a bug, with the payload size and QR version",
                )
            repairs.append(symbol)
        self._repairs = repairs


# --- decoder -------------------------------------------------------------------


MAX_FOLLOWED = 8
"""Transfers a decoder follows at once; past that the one with fewest symbols goes."""

MAX_FAILED = 64
"""Failed transfers remembered (so their frames are not followed again)."""


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays: how far along, and what was thrown away.

    The figures are those of the leading transfer (the one completed, else
    the one closest to completion). `percent` is received/K, held at 99
    until the payload is verified (RaptorQ now and then needs a symbol or
    two beyond K); `k` is 0 until a frame of a transfer arrived.
    """

    frames_seen: int  # every text offered, good or bad
    received: int  # distinct symbols of the leading transfer
    k: int
    percent: float
    foreign: int  # well-formed frames of any other transfer
    corrupt: int  # texts that are not well-formed frames
    duplicates: int
    complete: bool
    transfer_id: str | None
    others: int = 0  # other transfers seen (followed, failed or dropped)


@dataclass(frozen=True)
class TransferSeen:
    """Another transfer whose frames were seen, for the report at the end."""

    transfer_id: str
    k: int
    received: int
    failure: str | None = None  # why its rebuilt payload was refused


@dataclass
class _Transfer:
    """One transfer being followed: its shape, its symbols, its decoder."""

    key: tuple[bytes, int, int]
    order: int
    decoder: raptorq.Decoder | None
    ids: set[int]
    frames: int = 0
    duplicates: int = 0
    payload: bytes | None = None
    failure: str | None = None

    @property
    def k(self) -> int:
        return self.key[1]

    @property
    def fraction(self) -> float:
        return len(self.ids) / self.k

    def seen(self) -> TransferSeen:
        return TransferSeen(self.key[0].hex(), self.k, len(self.ids), self.failure)


class FountainDecoder:
    """Collects frames until one transfer's payload is rebuilt and verified.

    A screen may show frames of more than one transfer (a stray frame of
    the last export, two laptops side by side), so the decoder follows
    every transfer it sees, keyed by (transfer id, K, T), and finishes with
    the first that completes; the others are reported, never mixed in.
    With `expect` (the sender's transfer id or short hash) only that
    transfer is followed. Frames of other transfers are counted as
    foreign, texts that do not parse or fail their checksum as corrupt. A
    transfer whose rebuilt payload fails its SHA-256 is dropped and
    reported; it does not end the receive.
    """

    def __init__(self, expect: str | None = None) -> None:
        self._expect = _expected_id(expect)
        self._transfers: dict[tuple[bytes, int, int], _Transfer] = {}
        self._failed: dict[tuple[bytes, int, int], _Transfer] = {}
        self._done: _Transfer | None = None
        self._order = 0
        self._well_formed = 0
        self.dropped = 0
        self.frames_seen = 0
        self.corrupt = 0

    # ------------------------------------------------------------- figures

    def _leader(self) -> _Transfer | None:
        if self._done is not None:
            return self._done
        if not self._transfers:
            return None
        return max(self._transfers.values(), key=lambda t: (t.fraction, -t.order))

    @property
    def k(self) -> int:
        """K of the leading transfer; 0 before any frame arrived."""
        leader = self._leader()
        return leader.k if leader is not None else 0

    @property
    def received(self) -> int:
        """Distinct symbols of the leading transfer received so far."""
        leader = self._leader()
        return len(leader.ids) if leader is not None else 0

    @property
    def duplicates(self) -> int:
        """Frames of the leading transfer seen again (or after it completed)."""
        leader = self._leader()
        return leader.duplicates if leader is not None else 0

    @property
    def foreign(self) -> int:
        """Well-formed frames of any transfer but the leading one."""
        leader = self._leader()
        return self._well_formed - (leader.frames if leader is not None else 0)

    @property
    def complete(self) -> bool:
        """True once a payload is rebuilt and its SHA-256 matched."""
        return self._done is not None

    @property
    def transfer_id(self) -> str | None:
        """Hex id of the leading transfer, if any yet."""
        leader = self._leader()
        return leader.key[0].hex() if leader is not None else None

    @property
    def short_hash(self) -> str | None:
        """16 hex digits of the verified payload's SHA-256, once complete."""
        if self._done is None or self._done.payload is None:
            return None
        return hashlib.sha256(self._done.payload).hexdigest()[:16]

    def others(self) -> list[TransferSeen]:
        """Every transfer seen besides the leading one: followed, then failed."""
        leader = self._leader()
        followed = [t for t in self._transfers.values() if t is not leader]
        return [t.seen() for t in followed + list(self._failed.values())]

    # ------------------------------------------------------------- frames

    def add(self, text: str) -> bool:
        """Offer one scanned text; True when it was a new symbol of a followed transfer."""
        self.frames_seen += 1
        try:
            frame = parse_frame(text)
        except TransferError:
            self.corrupt += 1
            return False
        key = (frame.transfer_id, frame.k, len(frame.symbol))
        transfer = self._transfers.get(key) or self._failed.get(key)
        if transfer is None:
            if not self._acceptable(frame):
                return False
            if self.complete:  # the receive is over: not worth following
                self._well_formed += 1
                return False
            transfer = self._follow(key)
        self._well_formed += 1
        transfer.frames += 1
        if transfer.failure is not None or (self.complete and transfer is not self._done):
            return False
        if frame.symbol_id in transfer.ids or self.complete:
            transfer.duplicates += 1
            return False
        transfer.ids.add(frame.symbol_id)
        assert transfer.decoder is not None
        block = transfer.decoder.decode(_packet(frame.symbol_id, frame.symbol))
        if block is not None:
            self._finish(transfer, bytes(block))
        return True

    def _acceptable(self, frame: Frame) -> bool:
        """A frame of a new transfer: one we may follow, or counted and skipped."""
        try:
            _check_shape(frame.k, len(frame.symbol))
        except TransferError:
            self.corrupt += 1
            return False
        if self._expect is not None and self._expect[:4] != frame.transfer_id:
            self._well_formed += 1
            return False
        return True

    def _follow(self, key: tuple[bytes, int, int]) -> _Transfer:
        if len(self._transfers) >= MAX_FOLLOWED:
            weakest = min(self._transfers.values(), key=lambda t: (len(t.ids), t.order))
            del self._transfers[weakest.key]
            self.dropped += 1
        padded = _padded(key[2])
        decoder = raptorq.Decoder.with_defaults(key[1] * padded, padded)
        transfer = _Transfer(key, self._order, decoder, set())
        self._order += 1
        self._transfers[key] = transfer
        return transfer

    def _finish(self, transfer: _Transfer, block: bytes) -> None:
        transfer.decoder = None
        try:
            transfer.payload = self._unseal(transfer, block)
        except TransferError as error:
            transfer.failure = error.problem
            del self._transfers[transfer.key]
            self._failed[transfer.key] = transfer
            while len(self._failed) > MAX_FAILED:
                del self._failed[next(iter(self._failed))]
            return
        self._done = transfer
        for other in self._transfers.values():
            other.decoder = None  # the receive is over: free what the others hold

    def result(self) -> bytes:
        """The verified payload; an error naming what is missing before then."""
        if self._done is not None and self._done.payload is not None:
            return self._done.payload
        failed = "".join(
            f"; transfer {t.key[0].hex()} was rebuilt but refused: {t.failure}"
            for t in self._failed.values()
        )
        raise TransferError(
            f"the transfer is incomplete: {self.received} of at least {self.k or '?'} "
            f"symbols received{failed}",
            "keep scanning, or export more frames and scan those too",
        )

    def progress(self) -> Progress:
        """A snapshot of the counters for a progress display."""
        k, received = self.k, self.received
        percent = 100.0 if self.complete else min(99.0, 100.0 * received / k) if k else 0.0
        leader = 1 if self._leader() is not None else 0
        return Progress(
            frames_seen=self.frames_seen,
            received=received,
            k=k,
            percent=percent,
            foreign=self.foreign,
            corrupt=self.corrupt,
            duplicates=self.duplicates,
            complete=self.complete,
            transfer_id=self.transfer_id,
            others=len(self._transfers) + len(self._failed) + self.dropped - leader,
        )

    def _unseal(self, transfer: _Transfer, block: bytes) -> bytes:
        transfer_id, k, size = transfer.key
        padded = _padded(size)
        sealed = b"".join(block[i * padded : i * padded + size] for i in range(k))
        length = int.from_bytes(sealed[:4], "big")
        payload = sealed[SEAL_BYTES : SEAL_BYTES + length]
        digest = hashlib.sha256(payload).digest()
        if SEAL_BYTES + length > len(sealed) or digest != sealed[4:SEAL_BYTES]:
            raise TransferError(
                "the rebuilt payload does not match its SHA-256",
                "restart the transfer on the sender and scan it again",
            )
        if digest[:4] != transfer_id or not digest.startswith(self._expect or b""):
            raise TransferError(
                "the rebuilt payload does not match the transfer id in its frames",
                "restart the transfer on the sender and scan it again",
            )
        return payload


def _expected_id(expect: str | None) -> bytes | None:
    if expect is None:
        return None
    cleaned = "".join(expect.split()).lower()
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raw = b""
    if len(raw) < 4:
        raise TransferError(
            f"{expect!r} is not a transfer id",
            "give at least the 8 hex digits the sender shows",
        )
    return raw
