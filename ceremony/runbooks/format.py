"""Reading a runbook: Markdown for people, fenced blocks for the tool, checked strictly.

A runbook is a Markdown file that people read and print. The tool reads
only its fenced blocks tagged ``runbook`` (the header: who must be present,
materials, time), ``act`` (a part of the ceremony that ends with the
witnesses noting the record's head hash) and ``step``; every other line is
prose for people. Each block holds ``field: value`` lines; an indented line
continues the field above it, or is one ``name: value`` entry of a field
that holds entries (``present``, ``materials``, ``with``). The grammar is
in docs/runbooks.md.

Checking is strict, because a ceremony must not find a typo halfway: an
unknown field, an unknown action or parameter, a fork on a result that
cannot happen, a GO TO to no step, a variable no step sets, a ``who``
that is not among the people present are all errors, each naming the file
and line. Every problem is reported at once, so an author fixes them in
one pass.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ceremony.errors import BadInput
from ceremony.fsutil import read_bounded
from ceremony.runbooks import spec
from ceremony.runbooks.template import (
    inner_names,
    pattern_matches,
    references,
    stray_brace,
)
from ceremony.text import visible

MAX_RUNBOOK = 1024 * 1024
END = "end"
MUST, SHOULD = "MUST", "SHOULD"
KINDS = ("do", "check", "ask", "enter")
ENTRY_TYPES = ("text", "names", "list", "number", "path")
WORKSPACE_STATES = ("new", "existing", "any")
"""``new``: no root published yet (the folder becomes a workspace if it is
not one); ``existing``: a workspace with a published root; ``any``: either."""

_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([A-Za-z][\w-]*)?\s*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
_WORD = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_VAR = re.compile(r"^[a-z][a-z0-9_-]*(\.([a-z0-9_-]+|\{[a-z][a-z0-9_-]*\}))*$")
_EACH = re.compile(r"^([a-z][a-z0-9_-]*)\s+in\s+([a-z][a-z0-9_.-]*)$")
_GOTO = re.compile(r"^go\s*to\s+(\S+)$", re.IGNORECASE)

HEADER_FIELDS = {
    "runbook": True,
    "title": True,
    "purpose": True,
    "workspace": True,
    "time": True,
    "present": True,
    "materials": True,
    "before": False,
    "sites": False,
}
ACT_FIELDS = {"act": True, "title": True, "time": False}
STEP_FIELDS = {
    "step": True,
    "who": True,
    "say": True,
    "level": False,
    "each": False,
    "do": False,
    "with": False,
    "check": False,
    "ask": False,
    "answers": False,
    "enter": False,
    "type": False,
    "into": False,
    "go to": False,
    "rehearse": False,
}
ENTRY_FIELDS = frozenset({"present", "materials", "with"})
BLOCK_KINDS = {"runbook": HEADER_FIELDS, "act": ACT_FIELDS, "step": STEP_FIELDS}


# --------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a runbook, where it is."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class RunbookInvalid(BadInput):
    """A runbook that does not follow the grammar; ``problems`` lists each, by line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in runbook {problems[0].path}"
        super().__init__(
            "\n".join([head, *(f"  {p}" for p in problems)]),
            "fix each line named (the runbook format is in docs/runbooks.md), then check "
            "again with: ceremony runbook check FILE",
        )


@dataclass(frozen=True)
class Entry:
    name: str
    value: str
    line: int


@dataclass(frozen=True)
class Field:
    value: str
    line: int
    entries: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class Act:
    id: str
    title: str
    time: str
    line: int


@dataclass(frozen=True)
class Step:
    """One step: who acts, what they are told, and what the tool does or asks."""

    id: str
    line: int
    act: str
    who: str
    say: str
    kind: str
    text: str
    level: str = MUST
    action: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    answers: tuple[str, ...] = ()
    into: str | None = None
    type: str = "text"
    each: tuple[str, str] | None = None
    forks: dict[str, str] = field(default_factory=dict)
    goto: str | None = None
    rehearse: str | None = None

    @property
    def mandatory(self) -> bool:
        return self.level == MUST


@dataclass(frozen=True)
class Block:
    """Where a machine-read block sits in the file (for printing the runbook)."""

    kind: str
    first: int
    last: int
    id: str


@dataclass(frozen=True)
class Runbook:
    name: str
    title: str
    purpose: str
    workspace: str
    time: str
    present: dict[str, str]
    materials: dict[str, str]
    before: tuple[str, ...]
    sites: tuple[str, ...]
    acts: tuple[Act, ...]
    steps: tuple[Step, ...]
    path: Path
    text: str
    sha256: str
    blocks: tuple[Block, ...] = ()
    before_line: int = 0

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def act(self, act_id: str) -> Act:
        for act in self.acts:
            if act.id == act_id:
                return act
        raise KeyError(act_id)

    def following(self, step_id: str) -> str | None:
        """The step written after ``step_id``, or None after the last."""
        ids = [s.id for s in self.steps]
        index = ids.index(step_id) + 1
        return ids[index] if index < len(ids) else None


# --------------------------------------------------------------------------
# Lines to blocks to fields


@dataclass
class _Raw:
    kind: str
    first: int
    last: int
    lines: list[tuple[int, str]]


def _blocks(lines: list[str], where: str, problems: list[Problem]) -> list[_Raw]:
    """The fenced blocks the tool reads; other fences (examples) are prose."""
    found: list[_Raw] = []
    open_fence: tuple[str, str | None, int] | None = None
    body: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        match = _FENCE.match(line.rstrip())
        if open_fence is None:
            if match:
                open_fence, body = (match.group(1), match.group(2), number), []
            continue
        fence, info, start = open_fence
        closing = match and not match.group(2) and match.group(1)[0] == fence[0]
        if closing and match and len(match.group(1)) >= len(fence):
            if info and info.lower() in BLOCK_KINDS:
                found.append(_Raw(info.lower(), start, number, body))
            open_fence = None
            continue
        body.append((number, line))
    if open_fence is not None:
        problems.append(Problem(where, open_fence[2], "this fenced block is never closed"))
    return found


def _fields(raw: _Raw, where: str, problems: list[Problem]) -> dict[str, Field]:
    """``field: value`` lines, continuation lines and entries, each with its line."""
    fields: dict[str, Field] = {}
    key: str | None = None
    entries: list[Entry] = []
    entry_indent = 0
    for number, line in raw.lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if indent:
            if key is None:
                problems.append(Problem(where, number, "an indented line must follow a field"))
                continue
            if key in ENTRY_FIELDS:
                if entries and indent > entry_indent:
                    last = entries[-1]
                    entries[-1] = Entry(last.name, f"{last.value} {stripped}".strip(), last.line)
                else:
                    name, sep, value = stripped.partition(":")
                    if not sep or not name.strip():
                        problems.append(
                            Problem(where, number, f"expected 'name: value' under '{key}:'")
                        )
                        continue
                    entry_indent = indent
                    entries.append(Entry(name.strip(), value.strip(), number))
                fields[key] = Field(fields[key].value, fields[key].line, tuple(entries))
            else:
                old = fields[key]
                fields[key] = Field(f"{old.value} {stripped}".strip(), old.line)
            continue
        name, sep, value = line.partition(":")
        if not sep:
            problems.append(Problem(where, number, f"expected 'field: value', not {line!r}"))
            key = None
            continue
        key = " ".join(name.lower().split())
        if key in fields:
            first = fields[key].line
            problems.append(Problem(where, number, f"'{key}' is given twice (first at {first})"))
        fields[key] = Field(value.strip(), number)
        entries, entry_indent = [], 0
    return fields


def _known_fields(
    kind: str, fields: dict[str, Field], where: str, problems: list[Problem], first: int
) -> None:
    allowed = BLOCK_KINDS[kind]
    for key, item in fields.items():
        if key not in allowed and not (kind == "step" and key.startswith("if ")):
            known = ", ".join(sorted(allowed)) + (", if RESULT" if kind == "step" else "")
            problems.append(
                Problem(
                    where, item.line, f"unknown field '{key}' in a {kind} block (known: {known})"
                )
            )
    for key, required in allowed.items():
        if required and key not in fields:
            problems.append(Problem(where, first, f"a {kind} block needs '{key}:'"))
    for key in ENTRY_FIELDS & set(fields):
        if fields[key].value:
            problems.append(
                Problem(where, fields[key].line, f"'{key}:' holds indented 'name: value' lines")
            )


def _names(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


# --------------------------------------------------------------------------
# Checking blocks


class _Checker:
    """Turns raw blocks into a Runbook, collecting every problem."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.where = str(path)
        self.text = text
        self.problems: list[Problem] = []
        self.jumps: list[tuple[int, str]] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.where, line, message))

    def run(self) -> Runbook | None:
        raws = _blocks(self.text.splitlines(), self.where, self.problems)
        parsed = [(raw, _fields(raw, self.where, self.problems)) for raw in raws]
        for raw, fields in parsed:
            _known_fields(raw.kind, fields, self.where, self.problems, raw.first)
        if not parsed or parsed[0][0].kind != "runbook":
            line = parsed[0][0].first if parsed else 1
            self.problem(line, "a runbook begins with a ```runbook block (its header)")
            return None
        header = self._header(parsed[0][1], parsed[0][0].first)
        acts, steps, blocks = self._body(parsed[1:], header["present"])
        blocks.insert(0, Block("runbook", parsed[0][0].first, parsed[0][0].last, ""))
        self._check_flow(steps)
        self._check_variables(steps)
        if self.problems:
            return None
        return Runbook(
            name=header["name"],
            title=header["title"],
            purpose=header["purpose"],
            workspace=header["workspace"],
            time=header["time"],
            present=header["present"],
            materials=header["materials"],
            before=header["before"],
            sites=header["sites"],
            acts=tuple(acts),
            steps=tuple(steps),
            path=self.path,
            text=self.text,
            sha256=hashlib.sha256(self.text.encode("utf-8")).hexdigest(),
            blocks=tuple(blocks),
            before_line=header["before_line"],
        )

    # ------------------------------------------------------------ header

    def _header(self, fields: dict[str, Field], first: int) -> dict:
        def value(key: str) -> str:
            return fields[key].value if key in fields else ""

        name = value("runbook")
        if name and name != self.path.stem:
            self.problem(
                fields["runbook"].line,
                f"the runbook is called {name!r} but its file is {self.path.name!r}: "
                "they must match",
            )
        if name and not _ID.match(name):
            self.problem(fields["runbook"].line, f"{name!r} is not a runbook name (a-z, 0-9, -)")
        workspace = value("workspace").lower()
        if "workspace" in fields and workspace not in WORKSPACE_STATES:
            self.problem(
                fields["workspace"].line,
                f"workspace must be one of {', '.join(WORKSPACE_STATES)}, not {workspace!r}",
            )
        present = self._entries(fields.get("present"), "present")
        for role in ("administrator", "witnesses"):
            if "present" in fields and role not in present:
                self.problem(fields["present"].line, f"'present:' must name the {role}")
        sites = _names(value("sites"))
        if "sites" in fields and (len(sites) < 2 or not all(_WORD.match(s) for s in sites)):
            self.problem(fields["sites"].line, "sites: two or more words, separated by commas")
        before = _names(value("before"))
        for item in before:
            if not _ID.match(item):
                self.problem(fields["before"].line, f"{item!r} is not a runbook name")
        return {
            "name": name,
            "title": value("title"),
            "purpose": value("purpose"),
            "workspace": workspace,
            "time": value("time"),
            "present": present,
            "materials": self._entries(fields.get("materials"), "materials"),
            "before": before,
            "before_line": fields["before"].line if "before" in fields else first,
            "sites": sites,
        }

    def _entries(self, item: Field | None, what: str) -> dict[str, str]:
        if item is None:
            return {}
        if not item.entries:
            self.problem(item.line, f"'{what}:' lists at least one indented 'name: value' line")
        result: dict[str, str] = {}
        for entry in item.entries:
            name = entry.name.lower()
            if what == "present" and not _WORD.match(name):
                self.problem(entry.line, f"{entry.name!r}: a role word (a-z, 0-9, -) is needed")
            if name in result:
                self.problem(entry.line, f"{entry.name!r} is listed twice")
            if not entry.value:
                self.problem(entry.line, f"{entry.name!r} needs a description (who, how many)")
            result[name] = entry.value
        return result

    # -------------------------------------------------------------- body

    def _body(
        self, parsed: list[tuple[_Raw, dict[str, Field]]], present: dict[str, str]
    ) -> tuple[list[Act], list[Step], list[Block]]:
        acts: list[Act] = []
        steps: list[Step] = []
        blocks: list[Block] = []
        for raw, fields in parsed:
            if raw.kind == "runbook":
                self.problem(raw.first, "a runbook has one header block; this is a second")
            elif raw.kind == "act":
                act = self._act(fields, raw.first, acts)
                if acts and not any(s.act == acts[-1].id for s in steps):
                    self.problem(raw.first, f"act {acts[-1].id!r} before this one has no steps")
                acts.append(act)
                blocks.append(Block("act", raw.first, raw.last, act.id))
            else:
                if not acts:
                    self.problem(raw.first, "a step comes before any ```act block")
                    acts.append(Act("", "", "", raw.first))
                step = self._step(fields, raw.first, acts[-1].id, present)
                if any(s.id == step.id for s in steps):
                    self.problem(raw.first, f"step {step.id!r} is defined twice")
                steps.append(step)
                blocks.append(Block("step", raw.first, raw.last, step.id))
        if not steps:
            self.problem(1, "the runbook has no ```step blocks")
        elif not any(s.act == acts[-1].id for s in steps):
            self.problem(acts[-1].line, f"act {acts[-1].id!r} has no steps")
        return acts, steps, blocks

    def _act(self, fields: dict[str, Field], first: int, acts: list[Act]) -> Act:
        act_id = fields["act"].value if "act" in fields else ""
        if act_id and not _ID.match(act_id.lower()):
            self.problem(fields["act"].line, f"act {act_id!r}: use a number or a short word")
        if any(a.id == act_id for a in acts):
            self.problem(fields["act"].line, f"act {act_id!r} is defined twice")
        title = fields["title"].value if "title" in fields else ""
        time = fields["time"].value if "time" in fields else ""
        return Act(act_id, title, time, first)

    def _step(
        self, fields: dict[str, Field], first: int, act: str, present: dict[str, str]
    ) -> Step:
        def value(key: str) -> str:
            return fields[key].value if key in fields else ""

        step_id = value("step").lower()
        if "step" in fields and (not _ID.match(step_id) or step_id == END):
            self.problem(fields["step"].line, f"{step_id!r} is not a step id (a-z, 0-9, -)")
        who = value("who").lower()
        if "who" in fields and who not in present:
            self.problem(
                fields["who"].line,
                f"who: {who!r} is not among the people present "
                f"({', '.join(present) or 'none listed'})",
            )
        kinds = [k for k in KINDS if k in fields]
        if len(kinds) != 1:
            self.problem(
                first,
                "a step has exactly one of do (an action), check (a manual check), "
                f"ask (a question) or enter (a value typed in); this one has {kinds or 'none'}",
            )
        kind = kinds[0] if kinds else "check"
        level = value("level").upper() or MUST
        if level not in (MUST, SHOULD):
            self.problem(fields["level"].line, f"level must be MUST or SHOULD, not {level!r}")
        step = Step(
            id=step_id,
            line=first,
            act=act,
            who=who,
            say=value("say"),
            kind=kind,
            text=value(kind),
            level=level,
        )
        return self._step_detail(step, fields)

    def _step_detail(self, step: Step, fields: dict[str, Field]) -> Step:
        kind = step.kind
        action: str | None = None
        params: dict[str, str] = {}
        answers: tuple[str, ...] = ()
        if kind == "do":
            action, params = self._action(fields)
        for key in ("with",):
            if key in fields and kind != "do":
                self.problem(
                    fields[key].line, "'with:' gives an action's parameters: use it with do"
                )
        if kind == "ask":
            answers = _names(fields["answers"].value) if "answers" in fields else ("yes", "no")
            for answer in answers:
                if not _WORD.match(answer.lower()):
                    self.problem(fields["answers"].line, f"answer {answer!r}: one word, a-z 0-9 -")
            answers = tuple(a.lower() for a in answers)
        elif "answers" in fields:
            self.problem(fields["answers"].line, "'answers:' belongs to an ask step")
        entry_type = fields["type"].value.lower() if "type" in fields else "text"
        if "type" in fields and (kind != "enter" or entry_type not in ENTRY_TYPES):
            self.problem(
                fields["type"].line, f"type (of an enter step) is one of {', '.join(ENTRY_TYPES)}"
            )
        into = fields["into"].value if "into" in fields else None
        if kind == "enter" and into is None:
            self.problem(fields["enter"].line, "an enter step needs 'into: VARIABLE'")
        if into is not None and (kind not in ("enter", "ask") or not _VAR.match(into)):
            self.problem(fields["into"].line, f"into: {into!r} must name a variable of ask/enter")
        rehearse = fields["rehearse"].value if "rehearse" in fields else None
        if rehearse is not None and kind not in ("ask", "enter"):
            self.problem(
                fields["rehearse"].line, "rehearse: gives the scripted answer of ask/enter"
            )
        scripted = rehearse is not None and "{" not in rehearse
        if kind == "ask" and scripted and str(rehearse).lower() not in answers:
            self.problem(fields["rehearse"].line, f"rehearse: {rehearse!r} is not an answer")
        return replace(
            step,
            action=action,
            params=params,
            answers=answers,
            into=into,
            type=entry_type,
            each=self._each(fields),
            forks=self._forks(fields, kind, action, answers),
            goto=self._goto(fields),
            rehearse=rehearse,
        )

    def _action(self, fields: dict[str, Field]) -> tuple[str | None, dict[str, str]]:
        name = fields["do"].value.lower()
        action = spec.ACTIONS.get(name)
        if action is None:
            self.problem(
                fields["do"].line,
                f"unknown action {name!r} (known: {', '.join(sorted(spec.ACTIONS))})",
            )
            return None, {}
        params: dict[str, str] = {}
        for entry in fields["with"].entries if "with" in fields else ():
            param = action.param(entry.name.lower())
            if param is None:
                known = ", ".join(p.name for p in action.params) or "none"
                self.problem(
                    entry.line,
                    f"action {name!r} has no parameter {entry.name!r} (it takes: {known})",
                )
                continue
            self._literal(param, entry)
            params[param.name] = entry.value
        for param in action.params:
            if param.required and param.name not in params:
                self.problem(fields["do"].line, f"action {name!r} needs 'with: {param.name}: ...'")
        return name, params

    def _literal(self, param: spec.Param, entry: Entry) -> None:
        """A parameter written without variables is checked now, not at the table."""
        if "{" in entry.value:
            return
        value = entry.value.strip().lower()
        if param.kind == spec.NUMBER and not value.isdigit():
            self.problem(entry.line, f"{param.name}: {entry.value!r} is not a whole number")
        elif param.kind == spec.YESNO and value not in ("yes", "no"):
            self.problem(entry.line, f"{param.name}: yes or no, not {entry.value!r}")
        elif param.kind == spec.CHOICE and value not in param.choices:
            self.problem(
                entry.line, f"{param.name}: one of {', '.join(param.choices)}, not {entry.value!r}"
            )
        elif not value:
            self.problem(entry.line, f"{param.name}: no value given")

    def _each(self, fields: dict[str, Field]) -> tuple[str, str] | None:
        if "each" not in fields:
            return None
        match = _EACH.match(fields["each"].value.strip().lower())
        if not match:
            self.problem(fields["each"].line, "each: NAME in LIST, e.g. 'each: holder in holders'")
            return None
        if any(k.startswith("if ") for k in fields):
            self.problem(fields["each"].line, "a step repeated with each cannot fork (if)")
        return match.group(1), match.group(2)

    def _forks(
        self, fields: dict[str, Field], kind: str, action: str | None, answers: tuple[str, ...]
    ) -> dict[str, str]:
        forks: dict[str, str] = {}
        for key, item in fields.items():
            if not key.startswith("if "):
                continue
            result = key[3:].strip()
            if kind == "ask":
                possible = answers
            elif kind == "do" and action is not None:
                possible = spec.ACTIONS[action].results
            else:
                self.problem(item.line, "only ask and do steps fork (IF ... GO TO)")
                continue
            if result not in possible:
                self.problem(
                    item.line,
                    f"IF {result!r}: this step's results are {', '.join(possible) or 'none'}",
                )
            target = self._target(item)
            if target is not None:
                forks[result] = target
        return forks

    def _goto(self, fields: dict[str, Field]) -> str | None:
        if "go to" not in fields:
            return None
        item = fields["go to"]
        return self._target(Field(f"go to {item.value}", item.line))

    def _target(self, item: Field) -> str | None:
        text = item.value.strip()
        if text.lower() == END:
            return END
        match = _GOTO.match(text)
        if not match:
            self.problem(item.line, f"expected 'go to STEP' or 'end', not {text!r}")
            return None
        self.jumps.append((item.line, match.group(1).lower()))
        return match.group(1).lower()

    # -------------------------------------------------------------- flow

    def _check_flow(self, steps: list[Step]) -> None:
        ids = {s.id for s in steps}
        for line, target in self.jumps:
            if target not in ids:
                self.problem(line, f"GO TO {target!r}: there is no step {target!r}")

    # --------------------------------------------------------- variables

    def _check_variables(self, steps: list[Step]) -> None:
        defined = set(spec.BUILTIN_VARS)
        for step in steps:
            if step.into:
                defined.add(re.sub(r"\{[^}]*\}", "*", step.into))
            if step.action is not None:
                defined.update(spec.ACTIONS[step.action].outputs)
        for step in steps:
            local = {step.each[0]} if step.each else set()
            self._check_step_vars(step, defined | local)

    def _check_step_vars(self, step: Step, defined: set[str]) -> None:
        texts = [step.say, step.text, step.into or "", *step.params.values()]
        if step.each and not any(pattern_matches(step.each[1], d) for d in defined):
            self.problem(step.line, f"each: no step sets the list {step.each[1]!r}")
        for text in texts:
            self._check_text(step, text, defined)
        if step.rehearse is not None:
            rehearsal = {f"rehearsal.{name}" for name in spec.REHEARSAL_VARS}
            self._check_text(step, step.rehearse, defined | rehearsal)

    def _check_text(self, step: Step, text: str, defined: Iterable[str]) -> None:
        names = set(defined)
        if stray_brace(text):
            self.problem(step.line, f"step {step.id!r}: a brace that is not a {{variable}}")
        for inner in inner_names(text):
            if inner not in names:
                self.problem(step.line, f"step {step.id!r}: no step sets {{{inner}}}")
        for pattern in references(text):
            if not any(pattern_matches(pattern, d) for d in names):
                self.problem(step.line, f"step {step.id!r}: no step sets {{{pattern}}}")


# --------------------------------------------------------------------------
# Entry points


def parse(path: Path, text: str) -> Runbook:
    """A runbook from its text, or RunbookInvalid listing every problem by line."""
    checker = _Checker(Path(path), text)
    runbook = checker.run()
    if runbook is None:
        raise RunbookInvalid(sorted(checker.problems, key=lambda p: p.line))
    return runbook


def load(path: Path) -> Runbook:
    """Read and check one runbook file (a regular file, size-limited)."""
    path = Path(path)
    data = read_bounded(path, MAX_RUNBOOK, "runbook")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(
            f"runbook {visible(path)} is not UTF-8 text", "save it as UTF-8 Markdown"
        ) from None
    return parse(path, text)
