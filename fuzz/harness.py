"""One input to one parser of outside data, judged: the shared core of the
property tests (tests/test_properties.py), the atheris targets (fuzz/fuzz_*.py)
and the reliability report (scripts/reliability.py).

Every input must end in a value the parser accepts, or in one of our own
errors (CeremonyError) with a problem in words. Any other exception
propagates: that is the defect a campaign looks for. An accepted input must
also survive what the tool does next with it (canonical payload, writing
it back, loading that again), so "accepted" cannot hide a later crash.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ceremony.config import CONFIG_NAME, load_config
from ceremony.errors import CeremonyError
from ceremony.keys import key_to_json, load_key_file
from ceremony.metafile import parse_metadata, payload_bytes, to_file_bytes
from ceremony.pins import pin_source

ACCEPTED = "accepted"
REFUSED = "refused"
KNOWN_DEFECT = "known defect"

KNOWN_DEFECTS: dict[str, tuple[str, str]] = {}
"""Crashes found in code this campaign does not own, each with an xfail test:
counted apart (never hidden) until the owner fixes them."""

COUNTS: Counter[tuple[str, str]] = Counter()
"""(parser, outcome) -> inputs tried in this process; read by the report."""

COUNTS_ENV = "CEREMONY_CAMPAIGN_COUNTS"
"""When set, names a JSON file the counts are written to at exit (the report)."""

_scratch: Path | None = None


def _write_counts() -> None:
    target = os.environ.get(COUNTS_ENV)
    if target:
        listed = [[parser, outcome, n] for (parser, outcome), n in sorted(COUNTS.items())]
        Path(target).write_text(json.dumps(listed))


atexit.register(_write_counts)


def scratch() -> Path:
    """A private folder for the inputs that parsers read from files."""
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="ceremony-fuzz-"))
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


def use_scratch(path: Path) -> None:
    """Work in ``path`` (kept), where atexit never runs: under libFuzzer."""
    global _scratch
    path.mkdir(parents=True, exist_ok=True)
    _scratch = path


def _as_file(name: str, data: bytes, mode: int = 0o600) -> Path:
    path = scratch() / name
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return path


def metadata(data: bytes) -> None:
    parsed = parse_metadata(data, "input.json")
    payload = payload_bytes(parsed)
    again = parse_metadata(to_file_bytes(parsed), "written.json")
    assert payload_bytes(again) == payload, "metadata changed when written back"


def public_key(data: bytes) -> None:
    """A key file, JSON or PEM (load_key_file tells them apart)."""
    key = load_key_file(_as_file("key", data))
    again = load_key_file(_as_file("key-again.json", key_to_json(key)))
    assert again.keyid == key.keyid, "key changed when written back"


def config(data: bytes) -> None:
    workspace = scratch() / "workspace"
    workspace.mkdir(exist_ok=True)
    _as_file(f"workspace/{CONFIG_NAME}", data)
    loaded = load_config(workspace)
    assert loaded is not None
    _as_file(f"workspace/{CONFIG_NAME}", loaded.to_toml().encode())
    assert load_config(workspace) == loaded, "settings changed when written back"


def pin_file(data: bytes) -> None:
    pin = pin_source(str(_as_file("pin", data)))("PIN")
    assert pin and "\n" not in pin and "\r" not in pin


PARSERS: dict[str, Callable[[bytes], None]] = {
    "metadata": metadata,
    "public key": public_key,
    "ceremony.toml": config,
    "PIN file": pin_file,
}


def run(parser: str, data: bytes) -> str:
    """Feed ``data`` to ``parser``; ACCEPTED or REFUSED, else the exception."""
    try:
        PARSERS[parser](data)
    except CeremonyError as error:
        assert error.problem.strip(), f"{parser}: an error without words"
        if parser == "PIN file":
            _assert_pin_not_shown(data, error)
        COUNTS[parser, REFUSED] += 1
        return REFUSED
    except Exception as error:
        known = KNOWN_DEFECTS.get(parser)
        if known is None or type(error).__name__ != known[0]:
            raise
        COUNTS[parser, KNOWN_DEFECT] += 1
        return KNOWN_DEFECT
    COUNTS[parser, ACCEPTED] += 1
    return ACCEPTED


def _assert_pin_not_shown(data: bytes, error: CeremonyError) -> None:
    """A refused PIN file's content never appears in the message."""
    first = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    message = error.message()
    if len(first) >= 6 and first not in str(scratch()):
        assert first not in message, "the PIN file's content is in the error message"
