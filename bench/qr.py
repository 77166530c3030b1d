"""Benchmark: our RaptorQ/Base45 QR frames on real exports, and against a carousel and BC-UR.

Run ``.venv/bin/python bench/qr.py`` (about 4 minutes on 2 cores;
``--quick`` for a short run, ``--trials N`` late joins per cell, default
500, ``--budget S`` seconds per cell, ``--join-window N``).

**Real exports.** ``ceremony rehearse`` runs into a temporary directory, and
the bundles are built the way ``ceremony export`` builds them
(``bench/exports.py``): the rehearsal's root export, its whole export, a
50 KB targets export (a targets role staged, signed on the rehearsal's token
and published) and a partial-signatures bundle (a root rotation signed by
one holder). For each, at QR versions 10, 17, 20 and 25 (ECC L): K, frames
received and frames shown until the bundle is rebuilt (mean and 95th
percentile at 0%, 10% and 30% loss, the receiver joining at a random point
of the first ``--join-window`` x K frames) and the seconds that takes at
5 frames a second; beside them the *information limit* of the export's own
files: their distinct contents compressed by the best of zlib, LZMA2 (raw
and xz), bzip2 and, when installed, zstd, over the payload bytes a frame
carries. Target: K <= ceil(1.15 x limit) for each export. K of today's
format before bundle format 2 (zlib over a format-1 document) is shown too.

**Schemes.** Three synthetic transfers (a 5-holder root.json, a 50 KB
targets.json and a 1 MiB bundle of root history and hash-bin metadata, all
made and signed with python-tuf in the run, each a bundle document as
``ceremony export --qr`` sends it, so all three schemes carry the same
payload bytes) at the same versions:

- payload bytes per frame, and their share of the version's byte-mode
  capacity (what an ideal binary QR frame could hold); the frame header is
  the floor of what is lost (see the closing lines);
- K, the frames without loss: our source symbols, the carousel's chunks,
  BC-UR's ``seqLen``;
- frames *received* until the payload is rebuilt, mean and 95th percentile
  over the trials, at 0%, 10% and 30% of frames lost independently, joining
  as above (ours: source symbols, then fresh repair symbols; BC-UR: parts
  1, 2, ... forever; carousel: its loop);
- encode and decode time per frame, text in and text out, on one core
  (setup included, so small transfers show their fixed costs).

Statistics come from exact replays of each receiver that skip the text
layer (ours: RaptorQ packets into raptorq's decoder; BC-UR: the reference
peeling decoder on fragment indexes; carousel: chunk positions). Each cell
also runs ``--real`` full decodes from frame text (ours through
``FountainDecoder.add``, BC-UR through ``URDecoder`` on uppercased parts,
the carousel through its decoder) with the same random draws and checks
they need exactly as many frames and rebuild the payload. Each scheme's
longest frame is also put in a real QR symbol of that version in
alphanumeric mode to check it fits.

BC-UR's mixes are seeded by the message's CRC-32, so its trials vary the
payload's last 8 bytes (see ``BCUR``); ours and the carousel do not depend
on the content. A cell stops early when its time budget is spent (BC-UR's
reference decoder is quadratic in K), never below 1 trial per loss rate;
the ``trials`` column says how many ran.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qrcode
import raptorq
from qrcode.util import MODE_ALPHA_NUM, QRData
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Root,
    TargetFile,
    Targets,
)

from bench import bcur, carousel
from bench.exports import RealExport, build_real_exports
from ceremony.transfer import codec, qr
from ceremony.transfer import frames as ours
from ceremony.transfer.bundle import Bundle, BundleFile

VERSIONS = (10, 17, 20, 25)
LOSSES = (0.0, 0.1, 0.3)
ECC = "L"
SCHEMES = ("ours", "carousel", "bc-ur")
EXPIRES = datetime(2027, 11, 27, tzinfo=UTC)

# --- realistic metadata -------------------------------------------------------------


def _holder_key(signer: CryptoSigner, owner: str, slot: int) -> SSlibKey:
    """The public key as tuf-ceremony writes it: holder name and pkcs11 URI beside it."""
    key = signer.public_key
    return SSlibKey(
        key.keyid,
        key.keytype,
        key.scheme,
        key.keyval,
        unrecognized_fields={
            "x-tuf-ceremony-owner": owner,
            "x-tuf-ceremony-uri": f"pkcs11:token=ceremony-{owner.lower()};id=%{slot:02x};"
            "object=tuf-root;type=private",
        },
    )


@dataclass
class Keys:
    """Five holders' root keys and the online keys, generated for this run."""

    holders: list[CryptoSigner] = field(
        default_factory=lambda: [CryptoSigner.generate_ecdsa() for _ in range(5)]
    )
    online: CryptoSigner = field(default_factory=CryptoSigner.generate_ecdsa)
    bins: CryptoSigner = field(default_factory=CryptoSigner.generate_ecdsa)


def build_root(keys: Keys, version: int = 1) -> bytes:
    """root.json: 5 holder keys (threshold 3) for root and targets, online keys, 5 signatures."""
    root = Root(version=version, expires=EXPIRES, consistent_snapshot=True)
    names = ["Alice", "Bob", "Carol", "Dave", "Erin"]
    for slot, (signer, owner) in enumerate(zip(keys.holders, names, strict=True), 1):
        root.add_key(_holder_key(signer, owner, slot), Root.type)
        root.add_key(_holder_key(signer, owner, slot), Targets.type)
    for role in ("snapshot", "timestamp"):
        root.add_key(keys.online.public_key, role)
    root.roles[Root.type].threshold = 3
    root.roles[Targets.type].threshold = 3
    metadata = Metadata(root)
    for signer in keys.holders:
        metadata.sign(signer, append=True)
    return metadata.to_bytes()


def _target_files(rng: random.Random, count: int, prefix: str) -> dict[str, TargetFile]:
    files = {}
    for n in range(count):
        path = f"{prefix}/pkg-{n:05d}/pkg-{n:05d}-{rng.randint(0, 9)}.{rng.randint(0, 40)}.tar.gz"
        hashes = {"sha256": rng.randbytes(32).hex(), "sha512": rng.randbytes(64).hex()}
        files[path] = TargetFile(rng.randint(2_000, 90_000_000), hashes, path)
    return files


def _signed_targets(
    size: int, seed: int, prefix: str, signers: list[CryptoSigner], version: int
) -> bytes:
    """Targets metadata of at least ``size`` bytes with real-looking entries."""
    rng = random.Random(seed)
    count = max(1, size // 330)
    while True:
        files = _target_files(random.Random(rng.random()), count, prefix)
        metadata = Metadata(Targets(version=version, expires=EXPIRES, targets=files))
        for signer in signers:
            metadata.sign(signer, append=True)
        data = metadata.to_bytes()
        if len(data) >= size:
            return data
        count += max(1, (size - len(data)) // 330 + 1)


def build_targets(keys: Keys, size: int = 50_000, seed: int = 1) -> bytes:
    """targets.json of about ``size`` bytes, signed by 3 holders."""
    return _signed_targets(size, seed, "dist", keys.holders[:3], 7)


def build_large_bundle(keys: Keys, size: int = 1_048_576) -> Bundle:
    """A ~1 MB publish bundle: root history, targets delegating to 16 signed bins."""
    bins = [f"bins-{i:x}" for i in range(16)]
    delegations = Delegations(
        keys={keys.bins.public_key.keyid: keys.bins.public_key},
        roles={
            name: DelegatedRole(name, [keys.bins.public_key.keyid], 1, False, [f"*{name[-1]}*"])
            for name in bins
        },
    )
    top = Metadata(Targets(version=3, expires=EXPIRES, delegations=delegations))
    for signer in keys.holders[:3]:
        top.sign(signer, append=True)
    files = [BundleFile(f"metadata/{v}.root.json", build_root(keys, v)) for v in (1, 2, 3)]
    files += [BundleFile("metadata/root.json", files[-1].data)]
    files += [BundleFile("metadata/targets.json", top.to_bytes())]
    used = sum(len(f.data) for f in files)
    per_bin = max(1, -(-(size - used) // len(bins)))
    for n, name in enumerate(bins):
        data = build_targets_bin(keys, per_bin, seed=100 + n)
        files.append(BundleFile(f"metadata/{name}.json", data))
    return Bundle("publish", "bench-repo", files, created="2026-11-27T20:00:00Z")


def build_targets_bin(keys: Keys, size: int, seed: int) -> bytes:
    """One hash-bin role's metadata of about ``size`` bytes, signed by the online bin key."""
    return _signed_targets(size, seed, "bins", [keys.bins], 12)


@dataclass(frozen=True)
class Case:
    """One transfer to benchmark: what it is, its bundle size and the payload sent."""

    name: str
    bundle_len: int
    payload: bytes
    trials: int


def build_cases(trials: int, large_trials: int, quick: bool) -> list[Case]:
    """The three transfers of the issue, each as a compressed bundle document."""
    keys = Keys()

    def case(name: str, bundle: Bundle, n: int) -> Case:
        return Case(name, len(bundle.format1_bytes()), qr.payload_of(bundle), n)

    def single(name: str, data: bytes) -> Bundle:
        return Bundle("publish", "bench-repo", [BundleFile(name, data)])

    cases = [
        case("root.json, 5 holders", single("metadata/root.json", build_root(keys)), trials),
        case("targets.json, 50 KB", single("metadata/targets.json", build_targets(keys)), trials),
    ]
    large = build_large_bundle(keys, 200_000 if quick else 1_048_576)
    cases.append(case("bundle, 1 MB" if not quick else "bundle, 200 KB", large, large_trials))
    return cases


# --- the three schemes -------------------------------------------------------------


def _rfc6330_packet(symbol_id: int, symbol: bytes) -> bytes:
    """Source block 0, 24-bit id, symbol zero-padded to 8 bytes: what frames.py feeds raptorq."""
    pad = bytes(-len(symbol) % 8)
    return b"\x00" + symbol_id.to_bytes(3, "big") + symbol + pad


def _received(rng: random.Random, loss: float, start: int) -> Iterator[int]:
    """Stream positions from ``start`` that reach the receiver, with i.i.d. loss."""
    position = start
    while True:
        if rng.random() >= loss:
            yield position
        position += 1


class Ours:
    """Our frames: FountainEncoder/FountainDecoder from ceremony/transfer/frames.py."""

    name = "ours"

    def __init__(self, payload: bytes, version: int) -> None:
        self.payload = payload
        self.encoder = ours.FountainEncoder(payload, version=version, ecc=ECC)
        self.k = self.encoder.k
        self.per_frame = self.encoder.symbol_size
        self._texts: list[str] = []
        self._packets: list[bytes] = []
        self._padded = -(-self.per_frame // 8) * 8

    def _text(self, symbol_id: int) -> str:
        while symbol_id >= len(self._texts):
            start = len(self._texts)
            batch = self.encoder.frames(max(64, start), start=start)
            self._texts += batch
            self._packets += [
                _rfc6330_packet(f.symbol_id, f.symbol) for f in map(ours.parse_frame, batch)
            ]
        return self._texts[symbol_id]

    def longest_frame(self) -> str:
        return self._text(self.k)

    def replay(self, rng: random.Random, loss: float, window: int) -> int:
        return self.replay_shown(rng, loss, window)[0]

    def replay_shown(self, rng: random.Random, loss: float, window: int) -> tuple[int, int]:
        """Frames received and frames shown (lost ones too) until the payload is rebuilt."""
        decoder = raptorq.Decoder.with_defaults(self.k * self._padded, self._padded)
        start = rng.randrange(window * self.k)
        for count, symbol_id in enumerate(_received(rng, loss, start), 1):
            self._text(symbol_id)
            if decoder.decode(self._packets[symbol_id]) is not None:
                return count, symbol_id - start + 1
        raise AssertionError("unreachable")

    def real(self, rng: random.Random, loss: float, window: int) -> tuple[int, float]:
        decoder = ours.FountainDecoder()
        stream = _received(rng, loss, rng.randrange(window * self.k))
        count, elapsed = 0, 0.0
        for symbol_id in stream:
            text = self._text(symbol_id)
            started = time.perf_counter()
            decoder.add(text)
            elapsed += time.perf_counter() - started
            count += 1
            if decoder.complete:
                break
        assert decoder.result() == self.payload
        return count, elapsed / count

    def encode_time(self, count: int) -> float:
        started = time.perf_counter()
        encoder = ours.FountainEncoder(self.payload, version=self.encoder.version, ecc=ECC)
        encoder.frames(count)
        return (time.perf_counter() - started) / count


class Carousel:
    """BBQr-style carousel of Base32 chunks (bench/carousel.py)."""

    name = "carousel"

    def __init__(self, payload: bytes, version: int) -> None:
        self.payload = payload
        self.chars = ours.capacity_alnum(version, ECC)
        self.encoder = carousel.CarouselEncoder(payload, self.chars, "2")
        self.k = self.encoder.k
        self.per_frame = self.encoder.chunk_size

    def longest_frame(self) -> str:
        return self.encoder.frame(0)

    def replay(self, rng: random.Random, loss: float, window: int) -> int:
        return carousel.frames_needed(self.k, loss, rng)

    def real(self, rng: random.Random, loss: float, window: int) -> tuple[int, float]:
        decoder = carousel.CarouselDecoder()
        start = rng.randrange(self.k)
        position, elapsed = start, 0.0
        while not decoder.done:
            if rng.random() >= loss:
                text = self.encoder.frame(position)
                started = time.perf_counter()
                decoder.add(text)
                elapsed += time.perf_counter() - started
            position += 1
        assert decoder.result == self.payload
        return decoder.received, elapsed / decoder.received

    def encode_time(self, count: int) -> float:
        started = time.perf_counter()
        encoder = carousel.CarouselEncoder(self.payload, self.chars, "2")
        for n in range(count):
            encoder.frame(n)
        return (time.perf_counter() - started) / count


class BCUR:
    """BC-UR multipart ``ur:bytes`` parts, uppercased (bench/bcur.py).

    BC-UR seeds every mixed part with the message's CRC-32, so one message
    is one fixed sequence of mixes, luckier or unluckier than most. Each
    trial therefore replaces the payload's last 8 bytes with random ones (a
    root.json with other signature bytes, in effect) and the figures average
    over messages of this length, not over one CRC.
    """

    name = "bc-ur"

    def __init__(self, payload: bytes, version: int) -> None:
        self.payload = payload
        self.cbor = bcur.cbor_bytes(payload)
        self.chars = ours.capacity_alnum(version, ECC)
        self.max_fragment = bcur.max_fragment_len_for(self.chars, len(self.cbor))
        fountain = bcur.FountainEncoder(self.cbor, self.max_fragment)
        self.k = fountain.seq_len
        self.per_frame = fountain.fragment_len
        self._head_crc = zlib.crc32(self.cbor[:-8])

    def _variant(self, rng: random.Random) -> tuple[bytes, int]:
        """This trial's last 8 bytes and the message CRC-32 that follows from them."""
        tail = rng.randbytes(8)
        return tail, zlib.crc32(tail, self._head_crc) & 0xFFFFFFFF

    def longest_frame(self) -> str:
        encoder = bcur.UREncoder(self.cbor, self.max_fragment, first_seq_num=99_998)
        return bcur.qr_text(encoder.next_part())

    def replay(self, rng: random.Random, loss: float, window: int) -> int:
        _, checksum = self._variant(rng)
        decoder = bcur.FountainDecoder()
        stream = _received(rng, loss, rng.randrange(window * self.k))
        for position in stream:
            decoder.receive(position + 1, self.k, len(self.cbor), checksum, None)
            if decoder.done:
                return decoder.received
        raise AssertionError("unreachable")

    def real(self, rng: random.Random, loss: float, window: int) -> tuple[int, float]:
        tail, _ = self._variant(rng)
        payload = self.payload[:-8] + tail
        start = rng.randrange(window * self.k)
        encoder = bcur.UREncoder(bcur.cbor_bytes(payload), self.max_fragment, first_seq_num=start)
        decoder = bcur.URDecoder()
        elapsed = 0.0
        while not decoder.done:
            part = bcur.qr_text(encoder.next_part())
            if rng.random() >= loss:
                started = time.perf_counter()
                decoder.receive_part(part)
                elapsed += time.perf_counter() - started
        assert decoder.result is not None
        assert bcur.cbor_unwrap_bytes(decoder.result) == payload
        received = decoder.fountain.received
        return received, elapsed / received

    def encode_time(self, count: int) -> float:
        started = time.perf_counter()
        encoder = bcur.UREncoder(self.cbor, self.max_fragment)
        for _ in range(count):
            bcur.qr_text(encoder.next_part())
        return (time.perf_counter() - started) / count


SCHEME_TYPES: dict[str, Callable[[bytes, int], Ours | Carousel | BCUR]] = {
    "ours": Ours,
    "carousel": Carousel,
    "bc-ur": BCUR,
}


def fits(text: str, version: int) -> bool:
    """Whether ``text`` fits a QR symbol of ``version`` (ECC L) in alphanumeric mode."""
    code = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_L)
    code.add_data(QRData(text, mode=MODE_ALPHA_NUM))
    try:
        code.make(fit=False)
    except qrcode.exceptions.DataOverflowError:
        return False
    return True


# --- running one cell --------------------------------------------------------------------


@dataclass
class Cell:
    """Results for one case, version and scheme."""

    case: str
    version: int
    scheme: str
    k: int
    per_frame: int
    share: float
    fits: bool
    stats: dict[float, tuple[float, int, int]]
    trials: int
    real_checked: int
    encode_s: float
    decode_s: float
    seconds: float


def _percentile95(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def run_cell(
    case: Case, version: int, scheme: str, window: int, real: int, seed: int, budget: float
) -> Cell:
    """Measure one scheme at one version for one transfer, within ``budget`` seconds.

    Every loss rate gets a third of the budget: replays stop early (at least
    one) when it is spent, and the table shows how many ran. The first
    replays are repeated as full decodes from frame text, at least one per
    cell.
    """
    started = time.perf_counter()
    coder = SCHEME_TYPES[scheme](case.payload, version)
    stats, decode_times, checked, trials = {}, [], 0, case.trials
    for li, loss in enumerate(LOSSES):
        share_start, share = time.perf_counter(), budget / len(LOSSES)
        counts: list[int] = []
        for trial in range(case.trials):
            if trial >= 1 and time.perf_counter() - share_start > share:
                break
            counts.append(coder.replay(random.Random(f"{seed}/{li}/{trial}"), loss, window))
        for trial in range(min(real, len(counts))):
            if (trial >= 1 or checked) and time.perf_counter() - share_start > 1.5 * share:
                break
            count, per_frame = coder.real(random.Random(f"{seed}/{li}/{trial}"), loss, window)
            if count != counts[trial]:
                raise AssertionError(f"{scheme} {case.name} v{version}: {count} != {counts[trial]}")
            decode_times.append(per_frame)
            checked += 1
        stats[loss] = (statistics.fmean(counts), _percentile95(counts), max(counts))
        trials = min(trials, len(counts))
    capacity = ours.capacity_bytes(version, ECC)
    return Cell(
        case=case.name,
        version=version,
        scheme=scheme,
        k=coder.k,
        per_frame=coder.per_frame,
        share=coder.per_frame / capacity,
        fits=fits(coder.longest_frame(), version),
        stats=stats,
        trials=trials,
        real_checked=checked,
        encode_s=coder.encode_time(min(max(2 * coder.k, 100), 1000)),
        decode_s=statistics.fmean(decode_times) if decode_times else float("nan"),
        seconds=time.perf_counter() - started,
    )


# --- printing ------------------------------------------------------------------------------


def _us(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1e6:,.0f}"


# --- real exports ------------------------------------------------------------------------

FPS = 5.0


def best_compressed(data: bytes) -> tuple[int, str]:
    """The smallest any general-purpose compressor at hand makes ``data``, and which."""
    import bz2
    import lzma

    sizes = {
        "zlib -9": len(zlib.compress(data, 9)),
        "LZMA2 raw": len(codec.compress(codec.LZMA, data)),
        "xz -9e": len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)),
        "bzip2 -9": len(bz2.compress(data, 9)),
    }
    try:
        import zstandard  # type: ignore[import-not-found]  # optional, not a dependency

        plain = zstandard.ZstdCompressor(level=22, write_content_size=False, write_checksum=False)
        sizes["zstd -22"] = len(plain.compress(data))
    except ImportError:
        pass
    best = min(sizes, key=lambda name: sizes[name])
    return sizes[best], best


@dataclass(frozen=True)
class RealCase:
    """A real export: what the frames carry now and before, and its own files' limit."""

    name: str
    files: int
    listed: int  # bytes of all files under every name
    distinct: int  # bytes of each distinct content once
    best: int  # the distinct contents, best compressed
    best_codec: str
    payload: bytes  # bundle format 2, as the frames carry it now
    old_payload: bytes  # zlib over the format-1 document, as before

    @classmethod
    def of(cls, export: RealExport) -> RealCase:
        bundle = export.bundle
        contents = b"".join(bundle.contents())
        best, best_codec = best_compressed(contents)
        return cls(
            export.name,
            len(bundle.files),
            sum(item.length for item in bundle.files),
            len(contents),
            best,
            best_codec,
            qr.payload_of(bundle),
            zlib.compress(bundle.format1_bytes(), 9),
        )


@dataclass
class RealCell:
    """One real export at one QR version: K against the limit, frames and seconds."""

    case: str
    version: int
    per_frame: int
    k: int
    k_before: int
    limit: float
    received: dict[float, tuple[float, int]]
    shown: dict[float, tuple[float, int]]
    trials: int

    @property
    def target(self) -> int:
        return math.ceil(1.15 * self.limit)


def run_real_cell(case: RealCase, version: int, window: int, seed: int, trials: int) -> RealCell:
    """Replays of our receiver on a real export; the first of each loss rate is
    repeated from frame text, through FountainDecoder, and must agree."""
    coder = Ours(case.payload, version)
    received, shown = {}, {}
    for li, loss in enumerate(LOSSES):
        runs = [
            coder.replay_shown(random.Random(f"{seed}/real/{li}/{trial}"), loss, window)
            for trial in range(trials)
        ]
        count, _ = coder.real(random.Random(f"{seed}/real/{li}/0"), loss, window)
        if count != runs[0][0]:
            raise AssertionError(f"{case.name} v{version}: {count} != {runs[0][0]}")
        got = [r for r, _ in runs]
        seen = [s for _, s in runs]
        received[loss] = (statistics.fmean(got), _percentile95(got))
        shown[loss] = (statistics.fmean(seen), _percentile95(seen))
    before = ours.FountainEncoder(case.old_payload, version=version, ecc=ECC).k
    limit = case.best / coder.per_frame
    return RealCell(
        case.name, version, coder.per_frame, coder.k, before, limit, received, shown, trials
    )


def print_real(cases: list[RealCase], cells: list[RealCell]) -> None:
    print(
        "\nReal exports, as `ceremony export` builds them (bundle format 2: each distinct "
        "content once, LZMA2)"
    )
    print(
        "limit = the export's distinct file contents, best compressed, over the payload bytes "
        "of a frame; target K <= ceil(1.15 x limit)"
    )
    for case in cases:
        print(
            f"\n{case.name}: {case.files} files, {case.listed:,} B under every name, "
            f"{case.distinct:,} B distinct, best {case.best:,} B ({case.best_codec}); "
            f"payload {len(case.payload):,} B (before: zlib over format 1, "
            f"{len(case.old_payload):,} B)"
        )
        losses = "".join(f" {f'{int(p * 100)}% loss':>22}" for p in LOSSES)
        print(
            f"{'ver':>3}{'B/frame':>8}{'limit':>7}{'target':>7}{'K':>4}{'K/lim':>6}{'before':>7}"
            f"{losses}  {'trials':>6}"
        )
        print(f"{'':>42}" + f" {'shown mean/p95 = s':>22}" * len(LOSSES))
        for cell in (c for c in cells if c.case == case.name):
            figures = "".join(
                f" {f'{m:.1f}/{p} = {m / FPS:.1f} s':>22}" for m, p in cell.shown.values()
            )
            flag = "" if cell.k <= cell.target else "  NOT met"
            print(
                f"{cell.version:>3}{cell.per_frame:>8,}{cell.limit:>7.2f}{cell.target:>7}"
                f"{cell.k:>4}{cell.k / cell.limit:>6.2f}{cell.k_before:>7}{figures}"
                f"  {cell.trials:>6}{flag}"
            )
    met = all(c.k <= c.target for c in cells)
    worst = max(cells, key=lambda c: c.k / c.limit)
    print(
        f"\n- K <= ceil(1.15 x limit) for every real export at every version: {_met(met)} "
        f"(highest K/limit {worst.k / worst.limit:.2f}: {worst.case}, v{worst.version}, "
        f"K={worst.k}, target {worst.target})"
    )


def print_header_floor(versions: list[int]) -> None:
    """What a frame loses against byte mode, and why the header part is the floor."""
    print("- payload bytes per frame against byte mode (the header is the floor):")
    prefix = len(ours.PREFIX) * 2 / 3  # three alphanumeric characters hold two bytes
    for version in versions:
        capacity = ours.capacity_bytes(version, ECC)
        size = ours.symbol_size_for(version, ECC)
        header = ours.HEADER_BYTES + prefix
        base45 = capacity - size - header
        print(
            f"  v{version}: {size} of {capacity} B ({size / capacity * 100:.1f}%): "
            f"header {header:.0f} B ({header / capacity * 100:.1f}%: transfer id, K, symbol id, "
            f"CRC, prefix), Base45 {base45:.0f} B ({base45 / capacity * 100:.1f}%)"
        )
    print(
        "  the header is what lets any frame start a receive alone; at v10 it is 13 of 271 B "
        "and Base45's 3% comes on top, so no version-10 frame reaches 95%: the floor, not a target"
    )


def print_case(case: Case, cells: list[Cell]) -> None:
    print(
        f"\n{case.name}: bundle {case.bundle_len:,} B, payload {len(case.payload):,} B, "
        f"up to {case.trials} late joins per cell"
    )
    losses = "".join(f" {f'{int(p * 100)}% loss':>15}" for p in LOSSES)
    head = f"{'ver':>3} {'scheme':<9}{'B/frame':>8}{'%byte':>7}{'K':>6}{losses}"
    print(f"{head}  {'enc us':>7} {'dec us':>7} {'trials':>6}")
    print(f"{'':>3} {'':<9}{'':>8}{'':>7}{'':>6}" + f" {'mean / p95':>15}" * len(LOSSES))
    for cell in cells:
        figures = "".join(f" {f'{m:,.1f} / {p:,}':>15}" for m, p, _ in cell.stats.values())
        flag = "" if cell.fits else "  (does not fit!)"
        print(
            f"{cell.version:>3} {cell.scheme:<9}{cell.per_frame:>8,}{cell.share * 100:>6.1f}%"
            f"{cell.k:>6,}{figures}  {_us(cell.encode_s):>7} {_us(cell.decode_s):>7}"
            f" {cell.trials:>6}{flag}"
        )


def print_targets(cells: list[Cell], cases: list[Case]) -> None:
    print("\nTargets")
    mine = [c for c in cells if c.scheme == "ours"]
    print_header_floor(sorted({c.version for c in mine}))
    worst = max(mine, key=lambda c: max(s[2] for s in c.stats.values()) - c.k)
    extra = max(s[2] for s in worst.stats.values()) - worst.k
    print(
        f"- frames received <= K+2 at every loss rate and join point: worst K+{extra} "
        f"({worst.case}, v{worst.version}): {_met(extra <= 2)}"
    )
    pick = {c.scheme: c for c in cells if c.case == cases[0].name and c.version == 20}
    if "ours" in pick and "bc-ur" in pick:
        a, b = pick["ours"].stats[0.1][0], pick["bc-ur"].stats[0.1][0]
        print(
            f"- ours <= 0.6x BC-UR for the root at v20, 10% loss: {a:.1f} vs {b:.1f} frames "
            f"= {a / b:.2f}x: {_met(a / b <= 0.6)}"
        )
    checked = sum(c.real_checked for c in cells)
    print(
        f"- replays confirmed by {checked} full decodes from frame text (same draws, same counts)"
    )
    fitting = all(c.fits for c in cells)
    print(
        f"- every scheme's longest frame fits its QR version in alphanumeric mode: {_met(fitting)}"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=500, help="late joins per cell (500)")
    parser.add_argument(
        "--large-trials", type=int, default=None, help="trials for the 1 MB bundle (default: 100)"
    )
    parser.add_argument("--real", type=int, default=None, help="full text decodes per cell")
    parser.add_argument("--join-window", type=int, default=2, help="join within the first N*K")
    parser.add_argument("--versions", type=int, nargs="+", default=list(VERSIONS))
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds per cell, at most (default 45)"
    )
    parser.add_argument("--quick", action="store_true", help="50 trials, a 200 KB bundle")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials = min(args.trials, 50)
    if args.large_trials is None:
        args.large_trials = min(args.trials, 20 if args.quick else 100)
    if args.real is None:
        args.real = 3 if args.quick else 10
    if args.budget is None:
        args.budget = 10.0 if args.quick else 45.0
    return args


def real_cases() -> list[RealCase]:
    """Rehearse in a temporary directory and build the real exports there."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="bench-qr-"))
    try:
        return [RealCase.of(export) for export in build_real_exports(base)]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    reals = real_cases()
    cases = build_cases(args.trials, args.large_trials, args.quick)
    jobs = [
        (case, version, scheme, args.join_window, args.real, args.seed, args.budget)
        for case in cases
        for version in args.versions
        for scheme in SCHEMES
    ]
    # the slowest cells first, so two workers finish together
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0].payload) / jobs[i][1])
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        real_futures = [
            pool.submit(run_real_cell, case, v, args.join_window, args.seed, args.trials)
            for case in reals
            for v in args.versions
        ]
        futures = {i: pool.submit(run_cell, *jobs[i]) for i in order}
        for done, i in enumerate(order, 1):
            cell = futures[i].result()
            print(
                f"[{done}/{len(jobs)}] {cell.case} v{cell.version} {cell.scheme}: "
                f"{cell.seconds:.0f} s",
                file=sys.stderr,
            )
        cells = [futures[i].result() for i in range(len(jobs))]
        real_cells = [future.result() for future in real_futures]
    print(f"QR transfer benchmark: ECC {ECC}, join within the first {args.join_window}K frames")
    print_real(reals, real_cells)
    print("\nSchemes compared on synthetic transfers")
    for case in cases:
        print_case(case, [c for c in cells if c.case == case.name])
    print_targets(cells, cases)
    print(f"\n({time.perf_counter() - started:.0f} s, {args.jobs} processes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
