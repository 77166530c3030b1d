"""Shared fixtures: a real SoftHSM2 token directory for the whole test run.

SOFTHSM2_CONF is set before the PKCS#11 module is first loaded (the module
reads it once per process), and tokens are initialised on demand through
our own ``tokens.init_token`` with real C_InitToken calls.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ceremony import modules

SO_PIN = "87654321"
USER_PIN = "123456"

# This file is imported twice (by pytest, and as tests.conftest by modules
# that import USER_PIN): the token directory is made once per process.
_MARK = "CEREMONY_TEST_SOFTHSM_DIR"
if os.environ.get(_MARK):
    _SOFTHSM_DIR = Path(os.environ[_MARK])
else:
    _SOFTHSM_DIR = Path(tempfile.mkdtemp(prefix="ceremony-softhsm-"))
    os.environ[_MARK] = str(_SOFTHSM_DIR)
    (_SOFTHSM_DIR / "tokens").mkdir()
    (_SOFTHSM_DIR / "softhsm2.conf").write_text(
        f"directories.tokendir = {_SOFTHSM_DIR / 'tokens'}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
os.environ["SOFTHSM2_CONF"] = str(_SOFTHSM_DIR / "softhsm2.conf")
os.environ.pop("CEREMONY_PIN", None)
os.environ.pop("CEREMONY_SO_PIN", None)
os.environ.pop("CEREMONY_PKCS11_MODULE", None)
os.environ.pop("CEREMONY_WORKSPACE", None)
# Every record needs an operator; tests act as one unless they say otherwise.
os.environ["CEREMONY_OPERATOR"] = "Test Operator"
# Test machines are online: the override is used, and recorded, as in rehearsals.
os.environ["CEREMONY_ALLOW_NETWORK"] = "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SOFTHSM_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def softhsm_conf() -> Path:
    return _SOFTHSM_DIR / "softhsm2.conf"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules that set PKCS11_BACKENDS run once per PKCS#11 implementation."""
    names = getattr(metafunc.module, "PKCS11_BACKENDS", None)
    if names and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", names, indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest):
    """The PKCS#11 implementation under test (SoftHSM2 unless parametrised)."""
    from tests.backends import backend as load

    chosen = load(getattr(request, "param", "softhsm"))
    previous = os.environ.get("CEREMONY_PKCS11_MODULE")
    if chosen.name != "softhsm":  # signers resolve the module like the CLI does
        os.environ["CEREMONY_PKCS11_MODULE"] = str(chosen.module_path)
    yield chosen
    if previous is None:
        os.environ.pop("CEREMONY_PKCS11_MODULE", None)
    else:
        os.environ["CEREMONY_PKCS11_MODULE"] = previous


@pytest.fixture(scope="module")
def module_path(backend) -> Path:
    return backend.module_path


@pytest.fixture(scope="module")
def lib(backend):
    return backend.lib


@pytest.fixture
def make_token(backend) -> Callable[[str], str]:
    """Initialise a fresh token; returns its (unique) label."""
    backend.reset()
    return backend.make_token


@pytest.fixture
def pin() -> Callable[[str], str]:
    return lambda _prompt: USER_PIN


@pytest.fixture
def pin_file(tmp_path: Path) -> Path:
    path = tmp_path / "pin.txt"
    path.write_text(USER_PIN + "\n")
    path.chmod(0o600)  # PIN files others can read are refused
    return path


@pytest.fixture(autouse=True)
def _default_workspace(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands run without --workspace write their record in a workspace of
    their own (beside the test's tmp_path, not in it), never in the checkout."""
    default = tmp_path_factory.mktemp("default-ws")
    (default / "ceremony.toml").write_text('[repository]\nname = "default-ws"\n')
    monkeypatch.setenv("CEREMONY_WORKSPACE", str(default))


@pytest.fixture(autouse=True)
def _close_signer_sessions() -> Iterator[None]:
    """Each test starts with no logged-in session left by another."""
    yield
    from ceremony import signer

    for pool in signer._DEFAULT_POOLS.values():
        pool.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def _fault_module_built(tmp_path_factory):
    """The fault-injecting PKCS#11 module over SoftHSM, compiled once.

    SoftHSM is initialised directly first; the fault module then shares it
    (see tests/faultpkcs11/faultpkcs11.c).
    """
    from ceremony import tokens
    from tests import faultmod

    module_path = modules.resolve_module_path(None)
    tokens.load_module(module_path)
    try:
        path = faultmod.build(tmp_path_factory.mktemp("faultpkcs11"), module_path)
    except faultmod.NoCompiler as error:
        pytest.skip(f"fault-injection tests need a C compiler: {error}")
    base = tmp_path_factory.mktemp("faultctl")
    return faultmod.FaultModule(path, module_path, base / "control", base / "fired.log")


@pytest.fixture
def faults(_fault_module_built):
    """The fault module, disarmed before and after the test."""
    _fault_module_built.disarm()
    yield _fault_module_built
    _fault_module_built.disarm()
