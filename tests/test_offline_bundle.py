"""The offline installation: build a bundle, install it with no index, use it.

Building needs the package index (the connected machine's side); the test
is skipped, saying so, only when no index answers. The install then runs
with the index pointed at a closed port on 127.0.0.1 and --no-index, and the
installed tool generates a key on a fresh SoftHSM token.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ceremony import __version__
from ceremony.keys import load_key_file

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "offline-bundle.sh"


def _run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False
    )
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done


def _index_reachable(tmp_path: Path) -> bool:
    """Can pip fetch a package the bundle needs? (the connected machine's test)"""
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(tmp_path), "tuf"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    return probe.returncode == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    probe = tmp_path_factory.mktemp("probe")
    if not _index_reachable(probe):
        pytest.skip("no package index is reachable: the bundle is built on a connected machine")
    out = tmp_path_factory.mktemp("bundle-parent") / "bundle"
    _run(["bash", str(SCRIPT), str(out), "--python", sys.executable])
    return out


def test_bundle_has_locked_hashed_wheels(bundle):
    _run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=bundle)
    lock = (bundle / "requirements.lock").read_text().splitlines()
    pins = [line for line in lock if not line.startswith("#")]
    wheels = sorted((bundle / "wheels").glob("*.whl"))
    assert len(pins) == len(wheels) > 10
    assert all(" --hash=sha256:" in line and "==" in line for line in pins)
    assert any(line.startswith(f"tuf-ceremony=={__version__} ") for line in pins)
    assert any(line.startswith("python-pkcs11==") for line in pins)


def test_install_offline_and_generate_a_key(bundle, tmp_path, softhsm_conf):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "VIRTUAL_ENV", "CEREMONY_"))
    }
    env["PIP_INDEX_URL"] = f"http://127.0.0.1:{_closed_port()}/simple"
    env["PIP_NO_INDEX"] = "1"
    env["PYTHON"] = sys.executable
    venv = tmp_path / "laptop-venv"
    _run(["sh", str(bundle / "install.sh"), str(venv)], env=env)
    tool = venv / "bin" / "ceremony"
    version = _run([str(tool), "--version"], env=env)
    assert version.stdout.strip() == f"ceremony {__version__}"
    assert not list((venv / "lib").glob("*/site-packages/tests")), "tests are not installed"

    # a SoftHSM key generation with the installed tool, on its own token store
    store = tmp_path / "softhsm"
    (store / "tokens").mkdir(parents=True)
    conf = store / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {store / 'tokens'}\nobjectstore.backend = file\n")
    env.update(
        SOFTHSM2_CONF=str(conf),
        CEREMONY_PIN="123456",
        CEREMONY_SO_PIN="87654321",
        CEREMONY_ALLOW_NETWORK="1",
    )
    ws = tmp_path / "ws"
    start = ["audit", "start", "--new-workspace", "--title", "Offline", "--operator", "Olga"]
    _run([str(tool), "--workspace", str(ws), *start], env=env)
    _run([str(tool), "--workspace", str(ws), "token", "init", "--label", "laptop"], env=env)
    key_file = tmp_path / "alice.json"
    _run(
        [str(tool), "--workspace", str(ws), "key", "generate", "--token", "laptop",
         "--label", "root", "--owner", "Alice", "-o", str(key_file)],
        env=env,
    )  # fmt: skip
    key = load_key_file(key_file)
    assert key.keytype == "ecdsa" and key.unrecognized_fields["x-ceremony-owner"] == "Alice"


def test_install_refuses_a_changed_wheel(bundle, tmp_path):
    copy = tmp_path / "bundle"
    _run(["cp", "-r", str(bundle), str(copy)])
    wheel = next((copy / "wheels").glob("tuf-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    done = subprocess.run(
        ["sh", str(copy / "install.sh"), str(tmp_path / "venv")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "FAILED" in done.stdout + done.stderr
    assert not (tmp_path / "venv").exists()
