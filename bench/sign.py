"""Signing on a token: our Signer against the limit and securesystemslib's HSMSigner.

Same SoftHSM2 token, same P-256 key, 1 KiB payload. Three signers:

- ours: ``Pkcs11Signer`` from a ``pkcs11:`` URI; logs in once per token and
  verifies every signature it returns before handing it back;
- the limit: bare python-pkcs11 sign calls in one logged-in session, plus
  the software verification our Signer must do anyway (key parsed once):
  nothing that checks its signatures goes faster;
- the baseline: securesystemslib's ``HSMSigner``, which opens a session and
  logs in for every signature and verifies nothing.

Two measures:

1. Signatures per second in a long run. PKCS#11 login state is shared by
   all sessions of a process (the baseline's logout would log ours out),
   so each signer runs in a process of its own, logged in once before
   timing; the three take turns for ``--rounds`` rounds (interleaved, so
   drifting load hits all alike) and the median rate counts.
2. What a key holder meets: a fresh process signing one to four times,
   login (and logout) included. Each trial is a new process that imports
   and primes the crypto library as ``ceremony sign`` has by the time it
   asks the token, then times from building the signer to the last
   signature checked and the session closed. Ours and the baseline
   alternate, ``--fresh-trials`` each; medians.

Run: .venv/bin/python -m bench.sign [--count N] [--rounds R] [--fresh-trials T]
Targets: ours within 1.1x of the limit (long run); in a fresh process,
ours no slower than HSMSigner for one to four signatures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.softhsm import private_softhsm
from ceremony import modules

PIN = "123456"
PAYLOAD = b"x" * 1024
SIGNERS = ("ours", "limit", "hsm")


def _setup():
    from ceremony import tokens
    from ceremony.keys import tuf_key_from_token

    module = modules.resolve_module_path(None)
    lib = tokens.load_module(module)
    tokens.init_token(lib, module, label="bench", so_pin="87654321", user_pin=PIN)
    token = tokens.find_token(lib, "bench")
    with tokens.logged_in(token, lambda _p: PIN, rw=True) as session:
        for attempt in range(20):  # HSMSigner addresses keys by an integer CKA_ID
            key = tokens.generate_key(session, "ecdsa-p256", f"bench-{attempt}")
            if key.key_id[0] != 0:
                return module, tuf_key_from_token(token, key), key.key_id
    raise RuntimeError("no key with a CKA_ID usable by HSMSigner")


# --- inside a worker process -------------------------------------------------------


def _prime() -> None:
    """What a `ceremony sign` process has done before it asks the token: the
    modules imported and the crypto library's backend started."""
    import pkcs11.util.ec  # noqa: F401
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    import ceremony.signer  # noqa: F401

    ec.ECDSA(hashes.SHA256())


def _signer(kind: str, key_file: str):
    from securesystemslib.signer import Signer

    from ceremony.keys import load_key_file

    key = load_key_file(Path(key_file))
    if kind == "ours":
        uri = key.unrecognized_fields["x-ceremony-uri"]
    else:
        uri = os.environ["BENCH_HSM_URI"]
    return Signer.from_priv_key_uri(uri, key, lambda _prompt: PIN)


def _limit(key_file: str):
    """Bare sign calls in one session, each verified with the parsed key (cryptography).

    Opened after ours has logged in: PKCS#11 login is per process, so the
    session shares it."""
    import hashlib

    import pkcs11
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from ceremony import tokens
    from ceremony.keys import Pkcs11Uri, load_key_file
    from ceremony.signer import der_ecdsa

    key = load_key_file(Path(key_file))
    uri = Pkcs11Uri.parse(key.unrecognized_fields["x-ceremony-uri"])
    lib = tokens.load_module(modules.resolve_module_path(None))
    assert uri.token is not None
    session = tokens.find_token(lib, uri.token).open()  # shares ours' login
    private = tokens.find_key(session, key_id=uri.id).private
    loaded = key._crypto_key()
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    crypto_key: ec.EllipticCurvePublicKey = loaded
    algorithm = ec.ECDSA(hashes.SHA256())

    class Bare:
        def sign(self, payload: bytes) -> None:
            digest = hashlib.sha256(payload).digest()
            raw = private.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
            crypto_key.verify(der_ecdsa(raw), payload, algorithm)

    return Bare()


def worker(kinds: str, key_file: str) -> None:
    """Sign on request: each stdin line 'KIND N' signs N times and answers the seconds.

    Ours and the limit share one process (and its one login); HSMSigner, which
    logs in and out for every signature, gets a process of its own."""
    import time

    _prime()
    signers = {}
    for kind in kinds.split("+"):  # ours first: it logs in, the limit shares the login
        signers[kind] = _limit(key_file) if kind == "limit" else _signer(kind, key_file)
        signers[kind].sign(PAYLOAD)
    for line in sys.stdin:
        kind, count = line.split()
        signer = signers[kind]
        started = time.perf_counter()
        for _ in range(int(count)):
            signer.sign(PAYLOAD)
        print(time.perf_counter() - started, flush=True)


def fresh(kind: str, key_file: str, count: int) -> None:
    """One fresh process: build the signer, sign ``count`` times, close; print ms.

    ``hsm+verify`` is HSMSigner followed by the check this tool makes of every
    signature (securesystemslib's verify_signature): the like-for-like baseline."""
    import time

    _prime()
    started = time.perf_counter()
    signer = _signer(kind.split("+")[0], key_file)
    for _ in range(count):
        signature = signer.sign(PAYLOAD)
        if kind == "hsm+verify":
            signer.public_key.verify_signature(signature, PAYLOAD)
    if kind == "ours":
        from ceremony.signer import default_pool

        default_pool().close()  # the logout, which HSMSigner does in every sign
    print(json.dumps((time.perf_counter() - started) * 1000))


# --- the parent ------------------------------------------------------------------------


def _child(*argv: str) -> list[str]:
    return [sys.executable, "-m", "bench.sign", *argv]


def _env(module: Path, key_id: bytes) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    return {
        **os.environ,
        "PYKCS11LIB": str(module),
        "BENCH_HSM_URI": f"hsm:{int.from_bytes(key_id, 'big')}?label=bench",
        "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def long_run(env: dict[str, str], key_file: str, count: int, rounds: int) -> dict[str, float]:
    """Median signatures per second of each signer, the three taking turns."""
    processes = {
        group: subprocess.Popen(
            _child("--worker", group, key_file),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for group in ("ours+limit", "hsm")
    }
    where = {"ours": "ours+limit", "limit": "ours+limit", "hsm": "hsm"}
    rates: dict[str, list[float]] = {kind: [] for kind in SIGNERS}
    per_round = {"ours": count, "limit": count, "hsm": max(1, count // 10)}
    try:
        for _ in range(rounds):
            for kind in SIGNERS:
                process = processes[where[kind]]
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(f"{kind} {per_round[kind]}\n")
                process.stdin.flush()
                rates[kind].append(per_round[kind] / float(process.stdout.readline()))
    finally:
        for process in processes.values():
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=60)
    return {kind: statistics.median(values) for kind, values in rates.items()}


FRESH = ("ours", "hsm", "hsm+verify")


def fresh_runs(env: dict[str, str], key_file: str, trials: int) -> dict[tuple[str, int], float]:
    """Median ms of a fresh process signing 1..4 times, the signers taking turns."""
    times: dict[tuple[str, int], list[float]] = {}
    for count in range(1, 5):
        for _ in range(trials):
            for kind in FRESH:
                argv = _child("--fresh", kind, key_file, "--n", str(count))
                out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
                times.setdefault((kind, count), []).append(float(out.stdout))
    return {cell: statistics.median(values) for cell, values in times.items()}


def report(rates: dict[str, float], fresh_ms: dict[tuple[str, int], float], rounds: int) -> None:
    print(f"P-256 signatures on SoftHSM2, 1 KiB payload; long run: median of {rounds} rounds")
    print(f"{'signer':46} {'sig/s':>8} {'vs HSMSigner':>13} {'limit/this':>11}")
    names = {
        "hsm": "securesystemslib HSMSigner (login per sig)",
        "ours": "ours: Pkcs11Signer (one login, verify each)",
        "limit": "limit: bare sign in one session + verify",
    }
    for kind in ("hsm", "ours", "limit"):
        rate = rates[kind]
        print(
            f"{names[kind]:46} {rate:8.0f} {rate / rates['hsm']:12.1f}x "
            f"{rates['limit'] / rate:10.2f}x"
        )
    gap = rates["limit"] / rates["ours"]
    print(f"target: ours within 1.1x of the limit: {gap:.2f}x -> {_met(gap <= 1.1)}")
    print("\nA fresh process signing N times, login and logout included (median ms)")
    print(
        f"{'N':>3} {'ours':>8} {'HSMSigner':>10} {'ours/HSM':>9} "
        f"{'HSM+verify':>11} {'ours/(HSM+verify)':>18}"
    )
    worst = worst_checked = 0.0
    for count in range(1, 5):
        ours, hsm = fresh_ms[("ours", count)], fresh_ms[("hsm", count)]
        checked = fresh_ms[("hsm+verify", count)]
        worst, worst_checked = max(worst, ours / hsm), max(worst_checked, ours / checked)
        print(
            f"{count:>3} {ours:8.2f} {hsm:10.2f} {ours / hsm:8.2f}x "
            f"{checked:11.2f} {ours / checked:17.2f}x"
        )
    print(
        f"target: ours no slower than HSMSigner for 1 to 4: worst {worst:.2f}x -> "
        f"{_met(worst <= 1)}; against HSMSigner plus the check every signature "
        f"gets here: worst {worst_checked:.2f}x -> {_met(worst_checked <= 1)}"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="signatures a round (ours, limit)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fresh-trials", type=int, default=15)
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "KEY"), help=argparse.SUPPRESS)
    parser.add_argument("--fresh", nargs=2, metavar=("KIND", "KEY"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    if args.fresh:
        fresh(args.fresh[0], args.fresh[1], args.n)
        return
    root = private_softhsm()
    try:
        from ceremony.keys import key_to_json

        module, tuf_key, key_id = _setup()
        key_file = root / "key.json"
        key_file.write_bytes(key_to_json(tuf_key))
        env = _env(module, key_id)
        rates = long_run(env, str(key_file), args.count, args.rounds)
        fresh_ms = fresh_runs(env, str(key_file), args.fresh_trials)
        report(rates, fresh_ms, args.rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
