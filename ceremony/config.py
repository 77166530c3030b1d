"""ceremony.toml: the workspace's settings.

Read with tomllib; written only by the workspace layer. The file may come
from a stick someone else prepared, so it is read strictly: a bounded read
of a regular file, every section and setting known, every value of the
right type and within range. A typo is refused with the setting named
rather than silently falling back to a default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ceremony.errors import WorkspaceError
from ceremony.fsutil import read_bounded

CONFIG_NAME = "ceremony.toml"
MAX_CONFIG_BYTES = 1024 * 1024
"""ceremony.toml is a few hundred bytes; a megabyte holds thousands of owners."""
DEFAULT_EXPIRY_DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}
EXPIRY_DAYS_RANGE = (1, 36500)
"""From one day to a hundred years: beyond that a date is a typo."""
PROFILES = ("plain", "rstuf", "tuf-on-ci")
"""Repository profiles: which custom fields go on keys (docs/design.md)."""

FIX = "correct ceremony.toml (or remove the setting to use the default)"


@dataclass
class Config:
    repository: str = "tuf-repository"
    profile: str = "plain"
    module: str | None = None
    expiry_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_EXPIRY_DAYS))
    owners: dict[str, str] = field(default_factory=dict)
    runbooks_dir: str | None = None
    """A folder of the project's own runbooks ([runbooks] dir), relative to the workspace."""

    def to_toml(self) -> str:
        lines = ["[repository]", f"name = {_quote(self.repository)}"]
        lines += [f"profile = {_quote(self.profile)}", "", "[pkcs11]"]
        if self.module:
            lines.append(f"module = {_quote(self.module)}")
        lines += ["", "[expiry_days]"]
        lines += [f"{_quote(role)} = {days}" for role, days in sorted(self.expiry_days.items())]
        lines += ["", "[owners]"]
        lines += [f"{_quote(k)} = {_quote(v)}" for k, v in sorted(self.owners.items())]
        if self.runbooks_dir:
            lines += ["", "[runbooks]", f"dir = {_quote(self.runbooks_dir)}"]
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """A TOML basic string: control characters escaped, so any text fits."""
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def load_config(workspace: Path) -> Config | None:
    """The workspace's settings, or None when it has no ceremony.toml."""
    path = Path(workspace) / CONFIG_NAME
    if not path.exists() and not path.is_symlink():
        return None
    data = read_bounded(path, MAX_CONFIG_BYTES, "settings file")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise WorkspaceError(
            f"{path} is not UTF-8 text (byte {error.start})", "save ceremony.toml as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise WorkspaceError(f"{path} is not valid TOML: {error}", FIX) from None
    except RecursionError:
        raise WorkspaceError(f"{path} nests arrays or tables too deep", FIX) from None
    return _settings(path, document)


def configured_module(workspace: Path) -> str | None:
    config = load_config(workspace)
    return config.module if config else None


# --------------------------------------------------------------------------
# Checking what was read


def _settings(path: Path, document: dict[str, Any]) -> Config:
    readers: dict[str, Callable[[Path, dict[str, Any], Config], None]] = {
        "repository": _repository,
        "pkcs11": _pkcs11,
        "expiry_days": _expiry_days,
        "owners": _owners,
        "runbooks": _runbooks,
    }
    config = Config()
    for name, value in document.items():
        if name not in readers:
            raise WorkspaceError(
                f"{path}: unknown setting {name!r} (sections are "
                f"{', '.join('[' + known + ']' for known in readers)})",
                "remove it or correct its spelling",
            )
        if not isinstance(value, dict):
            raise WorkspaceError(
                f"{path}: {name} must be a table ([{name}] with settings under it), "
                f"not {_kind(value)}",
                FIX,
            )
        readers[name](path, value, config)
    return config


def _kind(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number with a fraction"}
    names.update({str: "text", list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)


def _known_only(path: Path, section: str, table: dict[str, Any], known: tuple[str, ...]) -> None:
    for name in table:
        if name not in known:
            raise WorkspaceError(
                f"{path}: unknown setting {name!r} in [{section}] "
                f"(known there: {', '.join(known)})",
                "remove it or correct its spelling",
            )


def _text(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise WorkspaceError(f"{path}: {where} must be text in quotes, not {_kind(value)}", FIX)
    return value


def _runbooks(path: Path, table: dict[str, Any], config: Config) -> None:
    """A project's own runbooks folder (relative to the workspace, or absolute)."""
    _known_only(path, "runbooks", table, ("dir",))
    if "dir" in table:
        folder = _text(path, "runbooks.dir", table["dir"])
        if not folder.strip():
            raise WorkspaceError(
                f"{path}: runbooks.dir is empty", 'give a folder, e.g. dir = "runbooks"'
            )
        config.runbooks_dir = folder


def _repository(path: Path, table: dict[str, Any], config: Config) -> None:
    _known_only(path, "repository", table, ("name", "profile"))
    if "name" in table:
        config.repository = _text(path, "repository.name", table["name"])
        if not config.repository.strip():
            raise WorkspaceError(f"{path}: repository.name is empty", FIX)
    if "profile" in table:
        config.profile = _text(path, "repository.profile", table["profile"])
        if config.profile not in PROFILES:
            raise WorkspaceError(
                f"{path}: repository.profile {config.profile!r} is not one of "
                f"{', '.join(PROFILES)}",
                "fix the value in ceremony.toml",
            )


def _pkcs11(path: Path, table: dict[str, Any], config: Config) -> None:
    _known_only(path, "pkcs11", table, ("module",))
    if "module" not in table:
        return
    module = _text(path, "pkcs11.module", table["module"])
    if not PurePosixPath(module).is_absolute() or "\x00" in module:
        raise WorkspaceError(
            f"{path}: pkcs11.module {module!r} is not an absolute path",
            "give the full path of the token's PKCS#11 module, e.g. "
            '"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"',
        )
    config.module = module


def _expiry_days(path: Path, table: dict[str, Any], config: Config) -> None:
    low, high = EXPIRY_DAYS_RANGE
    for role, days in table.items():
        # bool is an int to Python: "targets = true" must not mean one day
        if not isinstance(days, int) or isinstance(days, bool) or not low <= days <= high:
            plain = isinstance(days, int | float) and not isinstance(days, bool)
            shown = repr(days) if plain else _kind(days)
            raise WorkspaceError(
                f"{path}: expiry_days.{role} is {shown}; it must be a whole number of days "
                f"from {low} to {high}",
                "fix the value in ceremony.toml",
            )
        config.expiry_days[role] = days


def _owners(path: Path, table: dict[str, Any], config: Config) -> None:
    for key, owner in table.items():
        config.owners[key] = _text(path, f"owners.{key}", owner)
