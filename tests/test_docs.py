"""The documentation's commands run as written.

Every ```sh block of docs/online-server.md runs in one bash, from the
checkout, as a newcomer would paste them (TMPDIR points into the test's
folder, so ``mktemp -d`` lands there). The README's offline section runs in
an empty folder that has the checkout's scripts/, like a fresh checkout:
its first block builds a bundle (skipped only when no package index
answers), its second installs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ceremony import __version__
from tests.test_offline_bundle import _index_reachable

ROOT = Path(__file__).resolve().parent.parent


def sh_blocks(path: Path, section: str | None = None) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if section is not None:
        start = text.index(f"## {section}\n")
        end = text.find("\n## ", start + 1)
        text = text[start : end if end != -1 else len(text)]
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def run_bash(script: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CEREMONY_", "SOFTHSM"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done


def test_online_server_worked_example_runs_as_written(tmp_path):
    blocks = sh_blocks(ROOT / "docs" / "online-server.md")
    assert len(blocks) >= 6
    done = run_bash("\n".join(blocks), ROOT, tmp_path)
    assert "client trusts root v1; downloaded pkgs/hello.txt" in done.stdout
    assert "snapshot v1, timestamp v1" in done.stdout


def test_readme_offline_section_runs_as_written(tmp_path):
    if not _index_reachable(tmp_path / "probe"):
        pytest.skip("no package index is reachable: the bundle is built on a connected machine")
    build, install = sh_blocks(ROOT / "README.md", "Installing on the air-gapped laptop")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "scripts").symlink_to(ROOT / "scripts")
    built = run_bash(build, checkout, tmp_path)
    digest = built.stdout.strip().splitlines()[-1].split()[0]
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    (checkout / "tuf-ceremony-offline").rename(laptop / "tuf-ceremony-offline")
    installed = run_bash(install, laptop, tmp_path)
    assert installed.stdout.splitlines()[0].split()[0] == digest
    assert installed.stdout.strip().endswith(f"ceremony {__version__}")


def test_tokens_softhsm_checklist_runs_as_written(tmp_path):
    [block] = sh_blocks(ROOT / "docs" / "tokens.md", "SoftHSM 2 (rehearsals)")
    done = run_bash(block, ROOT, tmp_path)
    assert "verdict: born on the token, cannot leave it" in done.stdout
    assert "SoftHSM project SoftHSM v2  ok" in done.stdout
