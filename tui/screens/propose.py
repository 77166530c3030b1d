"""Propose a change: root of trust, rotation, delegation, expiry; the plan first.

Each form builds a plan through the engine (which refuses whatever it must,
naming the fix); the plan is shown in words, and nothing is written until
it is confirmed. Keys are chosen from the workspace's keys/ and from any
folder typed in (a USB stick with the holders' exported keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    OptionList,
    Select,
    Static,
)
from textual.widgets.option_list import Option

from ceremony.errors import BadInput, CeremonyError
from ceremony.overview import KeyChoice
from ceremony.plans import Staged, StagePlan
from ceremony.text import visible
from tui.screens.base import BaseScreen
from tui.widgets.key_picker import KeyPicker

TOP_ROLES = ("root", "targets", "snapshot", "timestamp")
DEFAULT_DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}


class ProposeScreen(BaseScreen):
    TITLE = "Propose a change"
    HELP = """\
Choose what to change. Each form shows the plan in words before anything is
written; confirm it to stage the proposal, then every holder reviews and
signs it (5 on the home screen)."""

    def body(self) -> ComposeResult:
        yield Static("What do you want to propose?", classes="dim")
        yield OptionList(
            Option("Root of trust, version 1 (a new repository)", id="init"),
            Option("Root rotation: add or remove holders, change thresholds", id="rotate"),
            Option("Delegation: trust other keys for some paths or hash bins", id="delegate"),
            Option("Renew a role's expiry (targets or a delegated role)", id="bump"),
            id="kinds",
            markup=False,
        )

    def on_mount(self) -> None:
        self.query_one("#kinds", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        forms: dict[str, Any] = {
            "init": RootInitForm,
            "rotate": RotationForm,
            "delegate": DelegationForm,
            "bump": BumpForm,
        }
        if event.option.id in forms:
            self.app.push_screen(forms[event.option.id]())


class PlanForm(BaseScreen):
    """A form that ends in a plan, shown for confirmation before it is staged."""

    BINDINGS = [  # noqa: RUF012
        Binding("ctrl+p", "plan", "Show the plan"),
        Binding("ctrl+r", "reload_keys", "Reload keys"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.choices: list[KeyChoice] = []

    def key_folder_field(self) -> ComposeResult:
        yield Label("Also read public keys from this folder (e.g. the USB stick)")
        yield Input(placeholder="/media/usb/keys", id="key-folder")
        yield Static("", id="key-problems", classes="dim", markup=False)

    FIRST: str = ""
    """The field that has the focus when the form opens."""

    def on_mount(self) -> None:
        self.action_reload_keys()
        if self.FIRST and self.query(self.FIRST):
            self.query_one(self.FIRST).focus()

    def action_reload_keys(self) -> None:
        folder = (
            self.query_one("#key-folder", Input).value.strip() if self.query("#key-folder") else ""
        )
        extra = [Path(folder)] if folder else []
        self.ceremony_app.run_core(lambda: self.ceremony.key_choices(extra), self._keys_loaded)

    def _keys_loaded(self, found: tuple[list[KeyChoice], list[str]]) -> None:
        self.choices, problems = found
        if self.query("#key-problems"):
            text = "; ".join(visible(p) for p in problems[:3])
            self.query_one("#key-problems", Static).update(
                f"Key files left out: {text}" if problems else ""
            )
        self.keys_changed()

    def keys_changed(self) -> None:
        """Fill the key lists (subclasses)."""

    def fill(self, picker: KeyPicker, exclude: frozenset[str] = frozenset()) -> None:
        picker.set_keys([(c.keyid, c.label()) for c in self.choices if c.keyid not in exclude])

    def key(self, keyid: str) -> Any:
        for choice in self.choices:
            if choice.keyid == keyid:
                return choice.key
        raise BadInput(f"key {keyid[:8]} is no longer available", "reload the keys (Ctrl+R)")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "key-folder":
            self.action_reload_keys()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "plan":
            self.action_plan()

    def number(self, field: str, what: str) -> int:
        text = self.query_one(f"#{field}", Input).value.strip()
        if not text.isdigit() or len(text) > 6:
            raise BadInput(f"{what} must be a whole number (got {visible(text)!r})", f"type {what}")
        return int(text)

    def action_plan(self) -> None:
        try:
            build = self.build()
        except CeremonyError as error:
            self.ceremony_app.show_error(error)
            return
        self.ceremony_app.run_core(build, self._show_plan)

    def build(self) -> Any:
        """A callable that makes the plan (run off the event loop)."""
        raise NotImplementedError

    def _show_plan(self, plan: StagePlan) -> None:
        self.app.push_screen(PlanScreen(plan))


class RootInitForm(PlanForm):
    TITLE = "Root of trust, version 1"
    FIRST = "#keys-root"
    HELP = """\
Choose the keys of each top-level role: root (the holders' tokens), targets,
and the online roles snapshot and timestamp (keys the online server gave
you). Set each role's threshold: how many of its keys must sign. A root
threshold of 1 is refused: one lost token must not be able to sign a new
root of trust. Ctrl+P shows the plan; nothing is written before you confirm.
This also creates the workspace when the folder is not one yet."""

    def __init__(self, new_workspace: bool = False) -> None:
        super().__init__()
        self.new_workspace = new_workspace

    def body(self) -> ComposeResult:
        with VerticalScroll():
            if self.new_workspace:
                yield Static(
                    f"A new workspace will be created in {visible(self.ceremony.path)} "
                    "when you confirm the plan.",
                    markup=False,
                )
            yield Label("Repository name")
            yield Input(value=self.ceremony.path.resolve().name, id="repository")
            yield from self.key_folder_field()
            for role in TOP_ROLES:
                yield Label(f"Keys of {role} (space to choose)")
                yield KeyPicker(id=f"keys-{role}", classes="keys")
                with Horizontal(classes="inline"):
                    yield Label("threshold")
                    yield Input(value="2" if role == "root" else "1", id=f"threshold-{role}")
                    yield Label("expires in days")
                    yield Input(value=str(DEFAULT_DAYS[role]), id=f"days-{role}")
            yield Label("Repository profile (which fields go on keys)")
            yield Select(
                [
                    ("plain (any TUF server)", "plain"),
                    ("rstuf", "rstuf"),
                    ("tuf-on-ci", "tuf-on-ci"),
                ],
                value="plain",
                allow_blank=False,
                id="profile",
            )
            yield Button("Show the plan (Ctrl+P)", id="plan", variant="primary")

    def keys_changed(self) -> None:
        for role in TOP_ROLES:
            self.fill(self.query_one(f"#keys-{role}", KeyPicker))

    def build(self) -> Any:
        from ceremony import roles

        add = []
        thresholds = {}
        days = {}
        for role in TOP_ROLES:
            for keyid in self.query_one(f"#keys-{role}", KeyPicker).selected:
                add.append((role, self.key(keyid)))
            thresholds[role] = self.number(f"threshold-{role}", f"the {role} threshold")
            days[role] = self.number(f"days-{role}", f"the {role} expiry in days")
        plan = roles.RootPlan(add=add, thresholds=thresholds)
        repository = self.query_one("#repository", Input).value.strip() or None
        profile = str(self.query_one("#profile", Select).value)
        return lambda: self.ceremony.plan_root_init(plan, days, repository, profile)


class RotationForm(PlanForm):
    TITLE = "Root rotation"
    FIRST = "#remove"
    HELP = """\
Stage the next root version from the one published now: add keys (new
holders, or a holder's new token), remove keys (a holder leaving, a lost
token), change thresholds, renew the expiry. The new root must be signed by
a threshold of the CURRENT root's keys and a threshold of its OWN keys; the
signing screen shows both. Ctrl+P shows the plan."""

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield from self.key_folder_field()
            yield Label("Role to change")
            yield Select([(r, r) for r in TOP_ROLES], value="root", allow_blank=False, id="role")
            yield Label("Keys to remove (space to choose)")
            yield KeyPicker(id="remove", classes="keys")
            yield Label("Keys to add")
            yield KeyPicker(id="add", classes="keys")
            with Horizontal(classes="inline"):
                yield Label("new threshold (empty: unchanged)")
                yield Input(id="threshold")
                yield Label("root expires in days")
                yield Input(
                    value=str(self.ceremony.workspace.config.expiry_days.get("root", 365)),
                    id="days",
                )
            yield Button("Show the plan (Ctrl+P)", id="plan", variant="primary")

    def on_select_changed(self, _event: Select.Changed) -> None:
        self.keys_changed()

    def keys_changed(self) -> None:
        role = str(self.query_one("#role", Select).value)
        self.ceremony_app.run_core(self.ceremony.root_keys, lambda keys: self._fill(role, keys))

    def _fill(self, role: str, current: dict[str, list[Any]]) -> None:
        refs = current.get(role, [])
        self.query_one("#remove", KeyPicker).set_keys([(r.keyid, r.label()) for r in refs])
        present = frozenset(ref.keyid for ref in refs)
        self.fill(self.query_one("#add", KeyPicker), present)

    def build(self) -> Any:
        from ceremony import roles

        role = str(self.query_one("#role", Select).value)
        remove = [(role, keyid) for keyid in self.query_one("#remove", KeyPicker).selected]
        add = [(role, self.key(k)) for k in self.query_one("#add", KeyPicker).selected]
        thresholds = {}
        if self.query_one("#threshold", Input).value.strip():
            thresholds[role] = self.number("threshold", "the threshold")
        days = self.number("days", "the root expiry in days")
        plan = roles.RootPlan(add=add, remove=remove, thresholds=thresholds, root_expiry_days=days)
        return lambda: self.ceremony.plan_rotation(plan)


class DelegationForm(PlanForm):
    TITLE = "Delegation"
    FIRST = "#name"
    HELP = """\
Trust other keys for part of the repository: name the delegated role, choose
its keys and threshold, and give either path patterns (pkgs/*) or a number
of hash bins (a power of two). The delegating role (targets unless you name
another) gets a new version that every one of its holders signs."""

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("Name of the delegated role")
            yield Input(id="name")
            yield Label("Delegated by (the role that gets a new version)")
            yield Input(value="targets", id="delegator")
            yield from self.key_folder_field()
            yield Label("Its keys (space to choose)")
            yield KeyPicker(id="keys", classes="keys")
            with Horizontal(classes="inline"):
                yield Label("threshold")
                yield Input(value="1", id="threshold")
                yield Label("expires in days (empty: default)")
                yield Input(id="days")
            yield Label("Path patterns, separated by spaces (or leave empty and give bins)")
            yield Input(placeholder="pkgs/* docs/*", id="paths")
            yield Label("Number of hash bins (instead of paths)")
            yield Input(id="bins")
            yield Checkbox("Terminating (stop the search here)", id="terminating")
            yield Button("Show the plan (Ctrl+P)", id="plan", variant="primary")

    def keys_changed(self) -> None:
        self.fill(self.query_one("#keys", KeyPicker))

    def build(self) -> Any:
        from ceremony import roles

        name = self.query_one("#name", Input).value.strip()
        paths = self.query_one("#paths", Input).value.split()
        bins = (
            self.number("bins", "the number of bins")
            if self.query_one("#bins", Input).value.strip()
            else None
        )
        days = (
            self.number("days", "the expiry in days")
            if self.query_one("#days", Input).value.strip()
            else None
        )
        plan = roles.DelegationPlan(
            name=name,
            keys=[self.key(k) for k in self.query_one("#keys", KeyPicker).selected],
            threshold=self.number("threshold", "the threshold"),
            paths=paths or None,
            hash_bins=bins,
            terminating=self.query_one("#terminating", Checkbox).value,
        )
        delegator = self.query_one("#delegator", Input).value.strip() or "targets"
        return lambda: self.ceremony.plan_delegation(plan, delegator, days)


class BumpForm(PlanForm):
    TITLE = "Renew an expiry"
    FIRST = "#role"
    HELP = """\
Stage the next version of a targets role (top-level targets or a delegated
role) with a fresh expiry. Its holders review and sign it like any change.
Renew root with a root rotation that changes nothing else."""

    def body(self) -> ComposeResult:
        yield Label("Role to renew")
        yield Input(value="targets", id="role")
        yield Label("Expires in days (empty: the workspace default)")
        yield Input(id="days")
        yield Button("Show the plan (Ctrl+P)", id="plan", variant="primary")

    def build(self) -> Any:
        role = self.query_one("#role", Input).value.strip() or "targets"
        days = (
            self.number("days", "the expiry in days")
            if self.query_one("#days", Input).value.strip()
            else None
        )
        return lambda: self.ceremony.plan_bump(role, days)


class PlanScreen(BaseScreen):
    TITLE = "The plan"
    HELP = """\
This is exactly what will be staged, in words. Nothing has been written yet.
Confirm (y) to stage it and record it; go back (Esc) to change the form."""
    BINDINGS = [  # noqa: RUF012
        Binding("y", "confirm", "Stage it"),
    ]

    def __init__(self, plan: StagePlan) -> None:
        super().__init__()
        self.plan = plan

    def body(self) -> ComposeResult:
        with VerticalScroll(id="plan-scroll"):
            yield Static("\n".join(self.plan.summary()), id="plan-text", markup=False)
        with Horizontal(classes="buttons"):
            yield Button("Stage it (y)", id="confirm", variant="warning")
            yield Button("Back (Esc)", id="back")

    def on_mount(self) -> None:
        self.query_one("#plan-scroll").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_confirm()
        else:
            self.app.pop_screen()

    def action_confirm(self) -> None:
        self.ceremony_app.run_core(lambda: self.ceremony.stage(self.plan), self._staged)

    def _staged(self, staged: Staged) -> None:
        from tui.screens.home import HomeScreen
        from tui.screens.review import ReviewScreen

        self.app.notify(
            f"Staged {visible(staged.role)} version {staged.version}. "
            "Next: every holder reviews and signs it.",
            markup=False,
        )
        while len(self.app.screen_stack) > 1 and not isinstance(self.app.screen, HomeScreen):
            self.app.pop_screen()
        if not isinstance(self.app.screen, HomeScreen):
            self.app.push_screen(HomeScreen())
        self.app.push_screen(ReviewScreen(staged.role))
