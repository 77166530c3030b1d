"""Signatures per second: our Signer against securesystemslib's HSMSigner.

Same SoftHSM2 token, same P-256 key. HSMSigner opens a session and logs in
for every signature; ours logs in once and verifies every signature it
returns. The limit is bare python-pkcs11 sign calls in one session plus the
software verification our Signer must do anyway.

Run: .venv/bin/python -m bench.sign [--count N]
Targets: ours >= 10x the baseline; ours within 1.2x of the limit.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import time
from collections.abc import Callable

from bench.softhsm import private_softhsm

PIN = "123456"


def _rate(count: int, one: Callable[[int], None]) -> float:
    one(-1)  # warm up: login, key lookup
    start = time.perf_counter()
    for index in range(count):
        one(index)
    return count / (time.perf_counter() - start)


def _interleaved(count: int, rounds: int, **runners: Callable[[int], None]) -> dict[str, float]:
    """Median rate of each runner over rounds taken in turn, so drifting
    machine load and clock speed hit all of them alike."""
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, one in runners.items():
            rates[name].append(_rate(count // rounds, one))
    return {name: statistics.median(values) for name, values in rates.items()}


def _setup():
    from ceremony import tokens
    from ceremony.keys import tuf_key_from_token

    module = tokens.resolve_module_path(None)
    lib = tokens.load_module(module)
    tokens.init_token(lib, module, label="bench", so_pin="87654321", user_pin=PIN)
    token = tokens.find_token(lib, "bench")
    with tokens.logged_in(token, lambda _p: PIN, rw=True) as session:
        for attempt in range(20):  # HSMSigner addresses keys by an integer CKA_ID
            key = tokens.generate_key(session, "ecdsa-p256", f"bench-{attempt}")
            if key.key_id[0] != 0:
                return module, token, tuf_key_from_token(token, key), key.key_id
    raise RuntimeError("no key with a CKA_ID usable by HSMSigner")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=5000, help="signatures for ours and limit (5 rounds)"
    )
    parser.add_argument("--baseline-count", type=int, default=200)
    args = parser.parse_args()
    root = private_softhsm()
    try:
        run(args.count, args.baseline_count)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(count: int, baseline_count: int) -> None:
    import os

    import pkcs11
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from securesystemslib.signer import Signer

    from ceremony import tokens
    from ceremony.signer import POOL, der_ecdsa

    module, token, tuf_key, key_id = _setup()
    payload = b"x" * 1024

    ours = Signer.from_priv_key_uri(
        tuf_key.unrecognized_fields["x-ceremony-uri"], tuf_key, lambda _p: PIN
    )
    ours.sign(payload)  # logs in; the login is the application's, shared by sessions
    with token.open() as session:
        private = tokens.find_key(session, key_id=key_id).private
        crypto_key = tuf_key._crypto_key()  # parsed once: the cheapest honest verify
        algorithm = ec.ECDSA(hashes.SHA256())

        def bare(_index: int) -> None:
            digest = hashlib.sha256(payload).digest()
            raw = private.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
            crypto_key.verify(der_ecdsa(raw), payload, algorithm)

        rates = _interleaved(count, 5, ours=lambda i: ours.sign(payload), limit=bare)
    ours_rate, limit_rate = rates["ours"], rates["limit"]
    POOL.close_all()

    os.environ["PYKCS11LIB"] = str(module)
    uri = f"hsm:{int.from_bytes(key_id, 'big')}?label=bench"
    baseline = Signer.from_priv_key_uri(uri, tuf_key, lambda _p: PIN)
    base_rate = _rate(baseline_count, lambda i: baseline.sign(payload))

    print("P-256 signatures per second on SoftHSM2 (1 KiB payload)")
    print(f"{'signer':44} {'sig/s':>10} {'vs baseline':>12} {'vs limit':>9}")
    rows = [
        ("securesystemslib HSMSigner (login per sig)", base_rate),
        ("ours: Pkcs11Signer (one login, verify each)", ours_rate),
        ("limit: bare sign in one session + verify", limit_rate),
    ]
    for name, rate in rows:
        print(f"{name:44} {rate:10.0f} {rate / base_rate:11.1f}x {rate / limit_rate:8.2f}x")
    speedup = ours_rate / base_rate
    gap = limit_rate / ours_rate
    print(f"target ours >= 10x baseline: {speedup:.1f}x -> {'met' if speedup >= 10 else 'NOT met'}")
    print(f"target limit/ours <= 1.2: {gap:.2f} -> {'met' if gap <= 1.2 else 'NOT met'}")


if __name__ == "__main__":
    main()
