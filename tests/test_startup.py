"""Start-up: the command line loads only what the command it runs uses.

Times are measured by bench/startup.py; these tests hold the cause in place:
which libraries a fresh interpreter has loaded after building the parser, or
after importing a module that should load a library only when it is used.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("fpdf", "PIL", "qrcode", "raptorq", "pkcs11", "cryptography", "tuf", "textual")


def _loaded_after(code: str) -> list[str]:
    """Heavy top-level packages in sys.modules after running ``code`` in a new process."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    modules = json.loads(done.stdout.splitlines()[-1])
    return sorted({name.split(".")[0] for name in modules} & set(HEAVY))


def test_parser_loads_no_heavy_library():
    """Every command module registers its options with nothing heavy loaded."""
    assert _loaded_after("from ceremony.cli import build_parser; build_parser()") == []


def test_help_loads_no_heavy_library():
    code = (
        "from ceremony.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code) == []


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("ceremony.transfer.qrrender", ["fpdf"]),
        ("ceremony.transfer.qr", ["fpdf", "PIL", "qrcode", "raptorq", "tuf"]),
    ],
)
def test_module_loads_library_when_used(module, absent):
    loaded = _loaded_after(f"import {module}")
    assert [name for name in absent if name in loaded] == []


def test_pdf_library_loads_when_a_pdf_is_drawn():
    code = (
        "from ceremony.transfer import qrrender\n"
        "qrrender.render_pdf([qrrender.qr_matrix('HELLO', version=2, ecc='L')])"
    )
    assert "fpdf" in _loaded_after(code)


def test_rstuf_timeout_help_shows_the_core_default():
    """The help states the default without loading ceremony.rstuf (and python-tuf)."""
    from ceremony import rstuf
    from ceremony.commands import rstuf as rstuf_commands

    assert rstuf_commands.DEFAULT_TIMEOUT_HELP == rstuf.DEFAULT_TIMEOUT
    done = subprocess.run(
        [sys.executable, "-m", "ceremony", "export", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert f"(default {rstuf.DEFAULT_TIMEOUT})" in " ".join(done.stdout.split())
