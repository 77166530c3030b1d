"""Build, arm and disarm the fault-injecting PKCS#11 module (tests/faultpkcs11).

The module forwards every call to SoftHSM2 and fails the calls a rule names
(see the comment at the top of faultpkcs11.c for the rule language). Rules
live in a control file the module reads again at every call, so a test arms
a fault in the middle of a process, and in the environment given to a child
process. Each fault fired leaves one line in a log file, so a test can tell
exactly which use of which function failed.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "faultpkcs11" / "faultpkcs11.c"
RULES_ENV = "FAULTPKCS11_RULES"
CONTROL_ENV = "FAULTPKCS11_CONTROL"
LOG_ENV = "FAULTPKCS11_LOG"
TARGET_ENV = "FAULTPKCS11_TARGET"

# The return values the tests use, by their PKCS#11 names.
CKR = {
    "CKR_FUNCTION_FAILED": 0x6,
    "CKR_DEVICE_ERROR": 0x30,
    "CKR_DEVICE_REMOVED": 0x32,
    "CKR_PIN_LOCKED": 0xA4,
    "CKR_SESSION_HANDLE_INVALID": 0xB3,
    "CKR_TOKEN_NOT_PRESENT": 0xE0,
}

_generation = itertools.count(1)


class NoCompiler(RuntimeError):
    """No C compiler on this machine: fault tests are skipped."""


def compiler() -> str | None:
    for name in (os.environ.get("CC"), "gcc", "cc"):
        if name and shutil.which(name):
            return name
    return None


def build(directory: Path, target: Path) -> Path:
    """Compile the module into ``directory``; forwards to ``target`` by default."""
    cc = compiler()
    if cc is None:
        raise NoCompiler("no C compiler (gcc or cc) found")
    digest = hashlib.sha256(SOURCE.read_bytes() + str(target).encode()).hexdigest()[:12]
    output = Path(directory) / f"libfaultpkcs11-{digest}.so"
    if output.is_file():
        return output
    define = f'-DFAULT_DEFAULT_TARGET="{target}"'
    command = [cc, "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror"]
    command += ["-fvisibility=hidden", define, "-o", str(output), str(SOURCE), "-ldl", "-lpthread"]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return output


@dataclass
class FaultModule:
    """A built module, with its control file and log."""

    path: Path
    target: Path
    control: Path
    log: Path

    def __post_init__(self) -> None:
        os.environ[CONTROL_ENV] = str(self.control)
        os.environ[LOG_ENV] = str(self.log)
        self.disarm()

    def arm(self, *rules: str) -> None:
        """Replace the rules; uses count afresh from now.

        A generation comment makes each arming a change the module sees,
        even when the same rules are armed twice.
        """
        text = f"# arm {next(_generation)}\n" + "".join(f"{rule}\n" for rule in rules)
        self.control.write_text(text)
        self.log.write_text("")

    def disarm(self) -> None:
        self.arm()

    def fired(self) -> list[str]:
        """One line per fault fired since the last arming: 'FUNCTION USE ACTION'."""
        return self.log.read_text().splitlines() if self.log.exists() else []

    def child_env(self, *rules: str) -> dict[str, str]:
        """The environment for a child process using this module with ``rules``
        (the control file is left out: the child's rules are its own)."""
        env = dict(os.environ)
        env.pop(CONTROL_ENV, None)
        env[RULES_ENV] = ";".join(rules)
        env["CEREMONY_PKCS11_MODULE"] = str(self.path)
        return env
