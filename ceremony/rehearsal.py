"""A rehearsal: a whole ceremony on SoftHSM tokens, headless.

Key holders and operators practise here before the real day, and the test
suite uses the same script to crash a ceremony at every step. Every step is
an ordinary command line, run through the same entry point a person uses,
so the rehearsal's record is what a real ceremony's would be.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ceremony.errors import BadInput

REHEARSAL_PIN = "rehearsal-pin"
REHEARSAL_SO_PIN = "rehearsal-so-pin"
ROOT_HOLDERS = ("Alice", "Bob", "Carol")
TARGETS_HOLDER = "Dave"


@dataclass(frozen=True)
class Rehearsal:
    """Where a rehearsal keeps its (pretend) tokens and key files."""

    workspace: Path
    tokens_dir: Path
    keys_dir: Path

    @classmethod
    def beside(cls, workspace: Path) -> Rehearsal:
        base = Path(workspace).resolve()
        return cls(base, base.parent / f"{base.name}-tokens", base.parent / f"{base.name}-keys")

    def token_label(self, holder: str) -> str:
        return f"rehearsal-{holder.lower()}"

    def key_file(self, holder: str) -> Path:
        return self.keys_dir / f"{holder.lower()}.pub.json"


def use_private_softhsm(tokens_dir: Path) -> Path:
    """Point SoftHSM2 at the rehearsal's own token directory.

    Must run before the PKCS#11 module is loaded in this process; the
    user's real SoftHSM tokens, if any, are never touched.
    """
    tokens_dir.mkdir(parents=True, exist_ok=True)
    (tokens_dir / "store").mkdir(exist_ok=True)
    conf = tokens_dir / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens_dir / 'store'}\n"
        "objectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return conf


def online_key_pem(path: Path) -> Path:
    """A stand-in for a public key the online server would hand over."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)
    return path


def holder_steps(rehearsal: Rehearsal) -> list[list[str]]:
    """Each holder initialises a token and generates a key on it."""
    steps = []
    for holder in (*ROOT_HOLDERS, TARGETS_HOLDER):
        label = rehearsal.token_label(holder)
        steps.append(["token", "init", "--label", label])
        steps.append(
            [
                "key",
                "generate",
                "--token",
                label,
                "--label",
                "tuf-key",
                "--owner",
                holder,
                "-o",
                str(rehearsal.key_file(holder)),
            ]
        )
    return steps


def ceremony_steps(rehearsal: Rehearsal) -> list[list[str]]:
    """Root v1 signed by two of three holders, targets v1, verified."""
    init = ["root", "init", "--threshold", "root=2", "--repository", "rehearsal"]
    for holder in ROOT_HOLDERS:
        init += ["--key", f"root={rehearsal.key_file(holder)}"]
    init += ["--key", f"targets={rehearsal.key_file(TARGETS_HOLDER)}"]
    for role in ("snapshot", "timestamp"):
        init += ["--key", f"{role}={rehearsal.keys_dir / f'{role}.pem'}"]
    alice, bob = (rehearsal.token_label(h) for h in ROOT_HOLDERS[:2])
    dave = rehearsal.token_label(TARGETS_HOLDER)
    return [
        init,
        ["review", "root"],
        ["sign", "root", "--token", alice],
        ["sign", "root", "--token", bob],
        ["publish", "root"],
        ["targets", "bump", "--expires", "90"],
        ["review", "targets"],
        ["sign", "targets", "--token", dave],
        ["publish", "targets"],
        ["status"],
        ["verify"],
    ]


def prepare(rehearsal: Rehearsal) -> None:
    """Key files of the online roles (software stand-ins)."""
    for role in ("snapshot", "timestamp"):
        path = rehearsal.keys_dir / f"{role}.pem"
        if not path.exists():
            online_key_pem(path)


def run_steps(
    steps: Sequence[list[str]],
    run: Callable[[list[str]], int],
    announce: Callable[[str], None] = print,
) -> int:
    """Run commands in order; stop at the first that fails."""
    for argv in steps:
        announce("\n$ ceremony " + " ".join(argv))
        code = run(argv)
        if code != 0:
            announce(f"step failed with exit code {code}")
            return code
    return 0


def check_fresh(rehearsal: Rehearsal) -> None:
    if (rehearsal.workspace / "metadata").exists():
        raise BadInput(
            f"{rehearsal.workspace} already holds a repository",
            "rehearse in a new folder (--workspace), or delete the old rehearsal",
        )
