"""Frames and the fountain code, without QR images in between."""

from __future__ import annotations

import itertools
import random
import zlib

import pytest

from ceremony.errors import TransferError
from ceremony.transfer import base45
from ceremony.transfer import frames as frames_module
from ceremony.transfer.frames import (
    HEADER_BYTES,
    PREFIX,
    FountainDecoder,
    FountainEncoder,
    Frame,
    capacity_alnum,
    capacity_bytes,
    decode_payload,
    default_frame_count,
    encode_payload,
    format_frame,
    frame_chars,
    parse_frame,
    symbol_size_for,
)

# ISO/IEC 18004 capacity table, around the character count width changes.
PUBLISHED = [
    (1, "L", 25, 17),
    (1, "M", 20, 14),
    (9, "L", 335, 230),
    (10, "L", 395, 271),
    (10, "M", 311, 213),
    (17, "L", 938, 644),
    (20, "L", 1249, 858),
    (25, "L", 1853, 1273),
    (26, "L", 1990, 1367),
    (27, "L", 2132, 1465),
    (40, "L", 4296, 2953),
    (40, "M", 3391, 2331),
]


def _rng(seed: int) -> random.Random:
    return random.Random(seed)


def _payload(size: int, seed: int = 1) -> bytes:
    return _rng(seed).randbytes(size)


@pytest.mark.parametrize(("version", "ecc", "alnum", "raw"), PUBLISHED)
def test_capacities_match_published_table(version: int, ecc: str, alnum: int, raw: int) -> None:
    assert capacity_alnum(version, ecc) == alnum
    assert capacity_bytes(version, ecc) == raw


@pytest.mark.parametrize("version", range(2, 41))
@pytest.mark.parametrize("ecc", ["L", "M"])
def test_frames_fill_their_version(version: int, ecc: str) -> None:
    chars = frame_chars(version, ecc)
    assert chars <= capacity_alnum(version, ecc) < chars + 3
    size = symbol_size_for(version, ecc)
    assert base45.encoded_length(size + HEADER_BYTES) + len(PREFIX) == chars


@pytest.mark.parametrize("version", [17, 20, 25, 40])
def test_payload_share_of_byte_mode_at_ecc_l(version: int) -> None:
    assert symbol_size_for(version, "L") >= 0.95 * capacity_bytes(version, "L")


def test_bad_version_and_level() -> None:
    with pytest.raises(TransferError):
        capacity_alnum(41, "L")
    with pytest.raises(TransferError):
        capacity_alnum(10, "X")
    with pytest.raises(TransferError):
        symbol_size_for(1, "H")


def test_every_frame_has_the_full_length() -> None:
    encoder = FountainEncoder(_payload(3000), version=12, ecc="M")
    for text in encoder.frames(encoder.k + 5):
        assert len(text) == frame_chars(12, "M")
        assert set(text) <= set(base45.ALPHABET)
        assert text == text.strip()  # safe from readers that trim


def test_payload_compression_round_trip_and_refusals() -> None:
    data = b'{"signed": {"_type": "root"}}' * 50
    packed = encode_payload(data)
    assert len(packed) < len(data)
    assert decode_payload(packed) == data
    with pytest.raises(TransferError):
        decode_payload(packed[:-3])
    with pytest.raises(TransferError):
        decode_payload(packed + b"x")
    with pytest.raises(TransferError):
        decode_payload(b"not zlib")
    with pytest.raises(TransferError):
        decode_payload(zlib.compress(bytes(10_000)), max_size=1000)


def test_default_frame_count_lets_any_70_percent_decode() -> None:
    for k in (1, 2, 7, 100, 4000):
        n = default_frame_count(k)
        assert int(n * 0.7) >= k + 2
        assert n <= (k + 2) / 0.7 + 1


def _feed(decoder: FountainDecoder, texts: list[str]) -> int:
    """Frames offered until the decoder completed."""
    for count, text in enumerate(texts, 1):
        decoder.add(text)
        if decoder.complete:
            return count
    return len(texts)


@pytest.mark.parametrize("size", [1, 200, 5000, 60_000])
@pytest.mark.parametrize("loss", [0.0, 0.1, 0.3, 0.5])
def test_round_trip_with_loss_and_late_join(size: int, loss: float) -> None:
    rng = _rng(size + int(loss * 100))
    payload = _payload(size, seed=size)
    encoder = FountainEncoder(payload, version=15, ecc="L")
    start = rng.randrange(0, 3 * encoder.k + 1)  # the receiver joins mid-stream
    shown = encoder.frames(3 * encoder.k + 10, start=start)
    kept = [t for t in shown if rng.random() >= loss]
    decoder = FountainDecoder()
    used = _feed(decoder, kept)
    assert decoder.result() == payload
    assert decoder.received <= encoder.k + 2
    assert used == decoder.received
    assert decoder.short_hash == encoder.short_hash
    assert decoder.progress().percent == 100.0


def test_any_k_distinct_frames_almost_always_suffice() -> None:
    encoder = FountainEncoder(_payload(20_000), version=10, ecc="L")
    pool = encoder.frames(4 * encoder.k)
    overhead = []
    for trial in range(40):
        texts = _rng(trial).sample(pool, encoder.k + 5)
        decoder = FountainDecoder()
        _feed(decoder, texts)
        overhead.append(decoder.received - encoder.k)
    assert max(overhead) <= 2
    assert sum(1 for o in overhead if o > 0) <= 4


def test_fresh_frames_for_looping_are_new_symbols() -> None:
    encoder = FountainEncoder(_payload(4000), version=8, ecc="L")
    first = encoder.frames(50)
    later = encoder.frames(50, start=50)
    far = encoder.frames(3, start=5000)
    assert not set(first) & set(later)
    ids = [parse_frame(t).symbol_id for t in first + later + far]
    assert ids == [*range(100), 5000, 5001, 5002]
    assert encoder.frame(17) == first[17]  # deterministic: resending repeats exactly
    decoder = FountainDecoder()
    _feed(decoder, far + encoder.frames(encoder.k + 2, start=9000))
    assert decoder.complete


def test_loop_is_fresh_until_its_cycle_then_repeats() -> None:
    encoder = FountainEncoder(_payload(600), version=10)
    cycle = encoder.loop_cycle
    assert cycle == 20 * encoder.default_count
    shown = list(itertools.islice(encoder.loop(start=3), cycle + 2))
    assert len(set(shown)) == cycle
    assert shown[cycle : cycle + 2] == shown[:2]
    assert shown[cycle - 3] == encoder.frame(0)
    with pytest.raises(TransferError):
        encoder.frame(1 << 24)


def test_interleaved_transfers_finish_the_first_complete_and_report_the_other() -> None:
    a = FountainEncoder(_payload(9000, seed=2), version=10)
    b = FountainEncoder(_payload(7000, seed=3), version=10)
    assert b.k < a.k
    mixed = [t for pair in zip(a.frames(60), b.frames(60), strict=True) for t in pair]
    decoder = FountainDecoder()
    _feed(decoder, mixed)
    assert decoder.result() == _payload(7000, seed=3)  # b needs fewer frames
    assert decoder.transfer_id == b.transfer_id
    assert decoder.foreign == decoder.frames_seen - decoder.received
    assert decoder.foreign == decoder.received  # a0 before b0, a1 before b1, ...
    [other] = decoder.others()
    assert (other.transfer_id, other.k, other.failure) == (a.transfer_id, a.k, None)
    assert other.received == decoder.received
    assert decoder.progress().others == 1

    chosen = FountainDecoder(expect=a.short_hash)
    _feed(chosen, mixed)
    assert chosen.result() == _payload(9000, seed=2)
    assert chosen.foreign == chosen.received - 1  # one of b after each of a but the last
    assert chosen.others() == []


def test_a_stray_frame_seen_first_does_not_lock_out_the_right_transfer() -> None:
    stray = FountainEncoder(_payload(800, seed=8), version=10)
    right = FountainEncoder(_payload(6000, seed=9), version=10)
    decoder = FountainDecoder()
    _feed(decoder, [stray.frame(3), *right.frames(right.k + 2)])
    assert decoder.result() == _payload(6000, seed=9)
    assert decoder.transfer_id == right.transfer_id
    assert decoder.foreign == 1
    assert [(o.transfer_id, o.received) for o in decoder.others()] == [(stray.transfer_id, 1)]


def test_many_stray_transfers_keep_memory_bounded_and_the_right_one() -> None:
    right = FountainEncoder(_payload(9000, seed=10), version=10)
    frames = right.frames(right.k + 2)
    strays = [FountainEncoder(_payload(300, seed=100 + n), version=10).frame(0) for n in range(40)]
    decoder = FountainDecoder()
    mixed = [frames[0], frames[1], *strays[:20], *frames[2:12], *strays[20:], *frames[12:]]
    _feed(decoder, mixed)
    assert decoder.result() == _payload(9000, seed=10)
    assert len(decoder._transfers) <= frames_module.MAX_FOLLOWED
    assert decoder.dropped == 40 - (frames_module.MAX_FOLLOWED - 1)


def test_same_payload_at_another_version_is_not_mixed_in() -> None:
    payload = _payload(5000)
    small, large = FountainEncoder(payload, version=10), FountainEncoder(payload, version=20)
    assert large.k > 5
    decoder = FountainDecoder()
    _feed(decoder, [small.frame(0), *large.frames(5), *small.frames(small.k + 2, start=1)])
    assert decoder.result() == payload
    assert decoder.transfer_id == small.transfer_id and decoder.k == small.k
    assert decoder.foreign == 5
    assert [(o.k, o.received) for o in decoder.others()] == [(large.k, 5)]


def test_corrupt_frames_are_skipped_and_counted() -> None:
    encoder = FountainEncoder(_payload(5000), version=10)
    good = encoder.frames(encoder.k + 2)
    flipped = good[0][:20] + ("0" if good[0][20] != "0" else "1") + good[0][21:]
    bad = [
        "HELLO WORLD",  # a QR symbol of someone else
        "https://example.org/",  # not even alphanumeric
        PREFIX,  # a prefix and nothing
        PREFIX + "GGW" * 30,  # Base45 that overflows
        PREFIX + "A" * 31,  # impossible Base45 length
        flipped,  # a valid-looking frame with one character changed
        good[1][:-3],  # truncated
        PREFIX + base45.encode(b"\x00" * 40),  # parses but fails its checksum
    ]
    decoder = FountainDecoder()
    _feed(decoder, [*bad, *good])
    assert decoder.corrupt == len(bad)
    assert decoder.foreign == 0
    assert decoder.result() == _payload(5000)


def test_duplicates_do_not_count_towards_k() -> None:
    encoder = FountainEncoder(_payload(5000), version=10)
    decoder = FountainDecoder()
    for _ in range(3):
        decoder.add(encoder.frame(1))
    assert (decoder.received, decoder.duplicates) == (1, 2)
    assert not decoder.complete
    assert 0 < decoder.progress().percent < 100
    with pytest.raises(TransferError, match="incomplete"):
        decoder.result()


def test_payload_that_fails_its_hash_is_refused_and_does_not_end_the_receive() -> None:
    encoder = FountainEncoder(_payload(3000), version=10)
    forged = [
        format_frame(Frame(b"\x01\x02\x03\x04", f.k, f.symbol_id, f.symbol))
        for f in map(parse_frame, encoder.frames(encoder.k + 2))
    ]
    decoder = FountainDecoder()
    _feed(decoder, forged)
    assert not decoder.complete
    with pytest.raises(TransferError, match=r"01020304 was rebuilt but refused: .*transfer id"):
        decoder.result()
    [failed] = decoder.others()
    assert failed.transfer_id == "01020304" and failed.failure
    before = decoder.foreign
    _feed(decoder, forged[:3])  # shown again: counted, not followed again
    assert decoder.foreign == before + 3
    _feed(decoder, encoder.frames(encoder.k + 2))  # the real one still completes
    assert decoder.result() == _payload(3000)


def test_absurd_shape_is_corrupt_not_a_crash() -> None:
    decoder = FountainDecoder()
    assert not decoder.add(format_frame(Frame(b"abcd", 0, 0, b"x" * 10)))
    assert not decoder.add(format_frame(Frame(b"abcd", 60000, 0, b"x" * 10)))
    assert decoder.corrupt == 2


def test_expect_must_look_like_an_id() -> None:
    with pytest.raises(TransferError):
        FountainDecoder(expect="zz")
    assert FountainDecoder(expect="DEAD BEEF").progress().transfer_id is None


def test_payload_too_large_for_one_block() -> None:
    with pytest.raises(TransferError, match="one block"):
        FountainEncoder(bytes(9 * 1024 * 1024), version=40)
