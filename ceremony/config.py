"""ceremony.toml: the workspace's settings.

Read with tomllib; written only by the workspace layer. Unknown sections
are kept for later versions, unknown settings in known sections refused so
a typo does not silently fall back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ceremony.errors import WorkspaceError

CONFIG_NAME = "ceremony.toml"
DEFAULT_EXPIRY_DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}
PROFILES = ("plain", "rstuf", "tuf-on-ci")
"""Repository profiles: which custom fields go on keys (docs/design.md)."""


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
        lines += [f"{role} = {days}" for role, days in sorted(self.expiry_days.items())]
        lines += ["", "[owners]"]
        lines += [f"{_quote(k)} = {_quote(v)}" for k, v in sorted(self.owners.items())]
        if self.runbooks_dir:
            lines += ["", "[runbooks]", f"dir = {_quote(self.runbooks_dir)}"]
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def load_config(workspace: Path) -> Config | None:
    """The workspace's settings, or None when it has no ceremony.toml."""
    path = Path(workspace) / CONFIG_NAME
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WorkspaceError(f"{path} is not valid TOML: {error}", "fix the file") from None
    config = Config()
    config.repository = str(data.get("repository", {}).get("name", config.repository))
    config.profile = str(data.get("repository", {}).get("profile", config.profile))
    if config.profile not in PROFILES:
        raise WorkspaceError(
            f"{path}: repository.profile {config.profile!r} is not one of {', '.join(PROFILES)}",
            "fix the value in ceremony.toml",
        )
    config.module = data.get("pkcs11", {}).get("module") or None
    for role, days in data.get("expiry_days", {}).items():
        if not isinstance(days, int) or days <= 0:
            raise WorkspaceError(
                f"{path}: expiry_days.{role} must be a positive whole number of days",
                "fix the value in ceremony.toml",
            )
        config.expiry_days[role] = days
    config.owners = {str(k): str(v) for k, v in data.get("owners", {}).items()}
    runbooks = data.get("runbooks", {}).get("dir")
    if runbooks is not None and not (isinstance(runbooks, str) and runbooks.strip()):
        raise WorkspaceError(
            f"{path}: runbooks.dir must be the path of a folder, as text",
            'fix the value in ceremony.toml, e.g. dir = "runbooks"',
        )
    config.runbooks_dir = runbooks
    return config


def configured_module(workspace: Path) -> str | None:
    config = load_config(workspace)
    return config.module if config else None
