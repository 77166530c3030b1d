"""Where runbooks come from: the shipped ones, and a project's own folder.

The tool ships seven runbooks (``runbooks/`` beside the package in a
checkout, ``share/tuf-ceremony/runbooks`` once installed). A project may
bring its own in a folder given by ``--runbooks DIR`` or by ``[runbooks]
dir`` in ceremony.toml (relative to the workspace); a project runbook with
the name of a shipped one replaces it, and ``runbook list`` says so. Every
runbook is checked the same way, and so are the names its ``before:``
field gives (the runbooks a rehearsal runs first).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ceremony.config import load_config
from ceremony.errors import BadInput
from ceremony.runbooks.format import Problem, Runbook, RunbookInvalid, load
from ceremony.text import visible

SHIPPED, PROJECT = "shipped", "project"


def shipped_dir() -> Path:
    """The runbooks that come with the tool."""
    checkout = Path(__file__).resolve().parents[2] / "runbooks"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "tuf-ceremony" / "runbooks"


def project_dir(workspace: Path | None, option: str | None) -> Path | None:
    """The project's runbook folder: the option, else ceremony.toml's [runbooks] dir."""
    if option:
        return Path(option).expanduser()
    config = load_config(workspace) if workspace is not None else None
    if config is None or not config.runbooks_dir:
        return None
    folder = Path(config.runbooks_dir).expanduser()
    return folder if folder.is_absolute() else Path(workspace or ".") / folder


@dataclass(frozen=True)
class Entry:
    """A runbook found, where it comes from, and what it replaces."""

    runbook: Runbook
    source: str
    replaces: Path | None = None


class Library:
    """Every runbook available here, each checked when the library is made."""

    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries

    @classmethod
    def load(cls, workspace: Path | None = None, folder: str | None = None) -> Library:
        """Shipped runbooks, then the project's; RunbookInvalid names every problem."""
        entries: dict[str, Entry] = {}
        problems: list[Problem] = []
        project = project_dir(workspace, folder)
        if project is not None and not project.is_dir():
            raise BadInput(
                f"the runbook folder {visible(project)} does not exist",
                "check --runbooks or [runbooks] dir in ceremony.toml",
            )
        for source, directory in ((SHIPPED, shipped_dir()), (PROJECT, project)):
            if directory is None or not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.md")):
                try:
                    runbook = load(path)
                except RunbookInvalid as error:
                    problems += error.problems
                    continue
                old = entries.get(runbook.name)
                entries[runbook.name] = Entry(runbook, source, old.runbook.path if old else None)
        library = cls(entries)
        problems += library._check_before()
        if problems:
            raise RunbookInvalid(problems)
        return library

    def _check_before(self) -> list[Problem]:
        """Every ``before:`` name is a runbook here, and no chain comes back to itself."""
        problems = []
        for entry in self.entries.values():
            runbook = entry.runbook
            for name in runbook.before:
                if name not in self.entries:
                    problems.append(
                        Problem(
                            str(runbook.path), runbook.before_line, f"before: no runbook {name!r}"
                        )
                    )
            try:
                self.chain(runbook.name)
            except BadInput as error:
                problems.append(Problem(str(runbook.path), runbook.before_line, error.problem))
        return problems

    def names(self) -> list[str]:
        return sorted(self.entries)

    def get(self, name: str) -> Runbook:
        entry = self.entries.get(name)
        if entry is None:
            raise BadInput(
                f"there is no runbook {visible(name)!r}",
                f"choose one of: {', '.join(self.names())} (see: ceremony runbook list)",
            )
        return entry.runbook

    def chain(self, name: str) -> list[Runbook]:
        """The runbooks a rehearsal of ``name`` runs, earliest first, ``name`` last."""
        order: list[str] = []

        def visit(current: str, path: tuple[str, ...]) -> None:
            if current in path:
                raise BadInput(
                    f"before: the chain {' -> '.join((*path, current))} comes back to itself",
                    "remove the loop from the before: fields",
                )
            entry = self.entries.get(current)
            if entry is None:
                return
            for earlier in entry.runbook.before:
                visit(earlier, (*path, current))
            if current not in order:
                order.append(current)

        visit(name, ())
        return [self.entries[n].runbook for n in order if n in self.entries]


def check_paths(paths: list[Path]) -> list[Runbook]:
    """Check runbook files or folders of them (for authors); every problem at once."""
    runbooks: list[Runbook] = []
    problems: list[Problem] = []
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.md")) if path.is_dir() else [path]
    for path in files:
        try:
            runbooks.append(load(path))
        except RunbookInvalid as error:
            problems += error.problems
    if problems:
        raise RunbookInvalid(problems)
    return runbooks
