"""`ceremony runbook list | show | check | run | prove`: ceremonies that follow a script.

The runbook engine (ceremony.runbooks) decides everything; this module
only shows each step and asks the person at the terminal for the answer:
confirmations, values, PINs (without echo), decisions after a failure.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.commands._common import ask, ceremony_of, pin_source_for, print_table
from ceremony.errors import BadInput, CeremonyError
from ceremony.text import visible, visible_lines

if TYPE_CHECKING:
    from ceremony.runbooks.engine import Run, StepView, View
    from ceremony.runbooks.library import Library


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser(
        "runbook",
        parents=[common],
        help="follow a ceremony's runbook step by step, recorded",
        description="A runbook is the script of a ceremony: who must be present, what to "
        "bring, and each step (DO, CHECK, IF ... GO TO). The tool walks it step by step "
        "and records each one; an interrupted run resumes where it stopped.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    folder = argparse.ArgumentParser(add_help=False)
    folder.add_argument(
        "--runbooks",
        metavar="DIR",
        help="the project's own runbooks (default: [runbooks] dir in ceremony.toml)",
    )
    listing = actions.add_parser(
        "list",
        parents=[common, folder],
        help="the runbooks available here",
        description="List the runbooks that ship with the tool and the project's own "
        "(--runbooks DIR, or [runbooks] dir in ceremony.toml), with their time and origin. "
        "Every one is checked first; a faulty one is named by file and line.",
    )
    listing.set_defaults(func=cmd_list)
    show = actions.add_parser(
        "show",
        parents=[common, folder],
        help="print a runbook, with blanks for initials and times",
        description="Print the runbook as people read it at the table: who must be "
        "present, the materials, and every step (DO, CHECK, IF ... GO TO) with blanks for "
        "initials, times and the head hash words at the end of each act.",
    )
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    check = actions.add_parser(
        "check",
        parents=[common],
        help="check runbook files you wrote (every problem, by line)",
        description="Check runbook files (or folders of them) against the format of "
        "docs/runbooks.md: unknown fields, actions or parameters, GO TO a step that does "
        "not exist, variables no step sets. Every problem is named by file and line.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="runbook files or folders")
    check.set_defaults(func=cmd_check)
    run = actions.add_parser(
        "run",
        parents=[common, folder],
        help="walk a runbook at this terminal, recording every step",
        description="Walk the runbook step by step: each step's instruction, then its "
        "action, check or question. Interrupted (Ctrl-C, a power cut), it resumes at the "
        "step after the last one done when run again.",
    )
    run.add_argument("name")
    run.add_argument("--dry-run", action="store_true", help="say what would happen; touch nothing")
    run.add_argument(
        "--witness", action="append", default=[], metavar="NAME", help="a witness (repeat)"
    )
    run.add_argument("--pin-file", metavar="FILE", help="read PINs from FILE (automation)")
    run.set_defaults(func=cmd_run)
    prove = actions.add_parser(
        "prove",
        parents=[common],
        help="answer a possession challenge with your token (a holder not in the room)",
        description="Sign the challenge of a root proposal with the key on your token, "
        "and send the proof file back to the ceremony: it is checked before your key is "
        "added. Compare the challenge's six words with the ones read to you.",
    )
    prove.add_argument("--challenge", required=True, metavar="FILE", help="challenge.json")
    prove.add_argument("--token", required=True, metavar="LABEL|SERIAL")
    prove.add_argument("--label", required=True, help="the key's label on the token")
    prove.add_argument("--owner", required=True, help="your name, as the ceremony knows it")
    prove.add_argument("-o", "--output", required=True, metavar="FILE")
    prove.add_argument("--pin-file", metavar="FILE", help="read the PIN from FILE")
    prove.set_defaults(func=cmd_prove)


def _library(args: argparse.Namespace) -> Library:
    from ceremony.runbooks.library import Library

    return Library.load(Path(args.workspace), getattr(args, "runbooks", None))


def cmd_list(args: argparse.Namespace) -> int:
    library = _library(args)
    rows = []
    for name in library.names():
        entry = library.entries[name]
        source = entry.source + (" (replaces the shipped one)" if entry.replaces else "")
        rows.append([name, entry.runbook.title, entry.runbook.time, source])
    print_table(["runbook", "title", "time", "from"], rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ceremony.runbooks.render import printable

    print(printable(_library(args).get(args.name)), end="")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ceremony.runbooks.library import check_paths

    for runbook in check_paths([Path(p) for p in args.paths]):
        print(f"ok: {runbook.path} ({runbook.name}, {len(runbook.steps)} steps)")
    return 0


def cmd_prove(args: argparse.Namespace) -> int:
    from ceremony.fsutil import write_atomic
    from ceremony.possession import Challenge

    challenge = Challenge.from_file(Path(args.challenge))
    print(f"Challenge: root version {challenge.root_version} of {visible(challenge.repository)}")
    print(f"  words: {challenge.words}  (they MUST be the words read to you)")
    proof = ceremony_of(args).prove_possession(
        args.token, args.label, args.owner, challenge, pin_source_for(args)
    )
    write_atomic(Path(args.output), proof.to_json())
    print(f"Proof for key {proof.key.keyid[:16]} ({visible(args.owner)}) written to {args.output}")
    return 0


# --------------------------------------------------------------------------
# run


class _Secrets:
    """PINs at the terminal (no echo), from --pin-file, or handed in by the caller."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def pin_source(self) -> Any:
        return pin_source_for(self.args)

    def new_pins(self, label: str) -> tuple[str, str]:
        from ceremony.pins import new_pin_source

        so_pin = getattr(self.args, "given_so_pin", None) or new_pin_source(
            None, "CEREMONY_SO_PIN", f"security officer PIN for {label}"
        )
        user_pin = getattr(self.args, "given_pin", None) or new_pin_source(
            self.args.pin_file, "CEREMONY_PIN", f"user PIN for {label}"
        )
        return so_pin, user_pin


def cmd_run(args: argparse.Namespace) -> int:
    from ceremony.runbooks.engine import FinishedView, Run, situation
    from ceremony.runbooks.render import dry_run

    ceremony = ceremony_of(args)
    runbook = _library(args).get(args.name)
    if args.dry_run:
        print(dry_run(runbook, situation(ceremony, runbook)), end="")
        return 0
    run = Run.open(ceremony, runbook, witnesses=tuple(args.witness))
    if run.resumed:
        print(f"Resuming run {run.run_id} of {runbook.name}.")
    view = run.current()
    while not isinstance(view, FinishedView):
        view = _answer(args, run, view)
    print("\nThe record is closed." if view.closed else "\nThe run stopped here.")
    print(f"Head hash: {view.head}")
    print("  " + " ".join(view.words))
    return 1 if view.stopped else 0


def _answer(args: argparse.Namespace, run: Run, view: View) -> View:
    from ceremony.runbooks import engine

    if isinstance(view, engine.ActEndView):
        print(f"\nEnd of act {visible(view.act.id)}: {visible(view.act.title)}")
        print("Head hash of the record, for the witnesses to write down:")
        for start in range(0, len(view.words), 8):
            print("  " + " ".join(view.words[start : start + 8]))
        return run.confirm(_who(run, "witnesses", "the witness who wrote it down"))
    if isinstance(view, engine.IrregularView):
        return _irregular(run, view)
    if isinstance(view, engine.ResultView):
        _lines(view.lines, f"-> {view.result}")
        ask("Press Enter to confirm and go on: ")
        return run.confirm(_person(run, view.step))
    if isinstance(view, engine.PlannedView):
        _lines(view.lines)
        return _perform(args, run, view.step)
    _heading(view)
    if isinstance(view, engine.SigningStep):
        return _sign(args, run)
    if isinstance(view, engine.ActionStep):
        return run.preview()
    return _step(run, view)


def _heading(view: Any) -> None:
    print(
        f"\nStep {view.number}/{view.total} (act {visible(view.act.id)}) {view.step.id}, "
        f"{view.level}: {visible(view.who)}{': ' + visible(view.person) if view.person else ''}"
    )
    print(f"  {visible(view.instruction)}")


def _lines(lines: Any, head: str | None = None) -> None:
    if head:
        print(head)
    for line in lines:
        print(f"  {visible_lines(line)}")


def _person(run: Run, view: StepView) -> str:
    default = view.person or (run.ceremony.operator if view.who == "administrator" else None)
    return _who(run, view.who, f"who confirms ({visible(view.who)})", default)


def _who(run: Run, role: str, what: str, default: str | None = None) -> str:
    if default is None and role == "witnesses" and run.values.get("witnesses"):
        default = str(run.values["witnesses"][0])
    while True:
        suffix = f" [{visible(default)}]" if default else ""
        name = ask(f"  Name of {what}{suffix}: ").strip() or (default or "")
        if name:
            return name


def _step(run: Run, view: Any) -> View:
    from ceremony.runbooks import engine

    while True:
        try:
            if isinstance(view, engine.CheckStep):
                answer = ask(f"  CHECK: {visible(view.text)}. Confirmed? [y/n]: ").strip().lower()
                if answer == "n" and not view.mandatory:
                    skip = ask("  This is a SHOULD step: type s to skip it, Enter to say no: ")
                    if skip.strip().lower() == "s":
                        return run.skip(_person(run, view))
                return run.confirm(_person(run, view), confirmed=answer in ("y", "yes"))
            if isinstance(view, engine.QuestionStep):
                answer = ask(f"  {visible(view.text)} ({' / '.join(view.answers)}): ")
                return run.answer(answer, _person(run, view))
            answer = ask(f"  {visible(view.text)}: ")
            return run.answer(answer, _person(run, view))
        except BadInput as error:
            print(f"  {visible(error.problem)}\n  What to do: {visible(error.fix)}")


def _perform(args: argparse.Namespace, run: Run, step: Any) -> View:
    prompt = "  Press Enter to carry it out"
    answer = ask(
        prompt + (", or type s to skip this SHOULD step: " if not step.mandatory else ": ")
    )
    if answer.strip().lower() == "s" and not step.mandatory:
        return run.skip(_person(run, step))
    inputs = {}
    for item in step.inputs:
        choices = f" ({' / '.join(item.choices)})" if item.choices else ""
        inputs[item.name] = ask(f"  {visible(item.prompt)}{choices}: ")
    return run.perform(_Secrets(args), inputs, by=_person(run, step))


def _sign(args: argparse.Namespace, run: Run) -> View:
    from ceremony.commands.metadata import _answer_round

    try:
        round_ = run.signing()
        print(f"  Signing {visible(round_.role)} v{round_.version}, payload {round_.digest}")
        args.final_try = False
        _answer_round(args, round_)  # type: ignore[arg-type]
    except CeremonyError as error:
        return run.fail(error)
    return run.finish_signing()


def _irregular(run: Run, view: Any) -> View:
    from ceremony.runbooks.engine import DECISIONS

    _lines(view.lines)
    print("  NOT AS THE RUNBOOK SAYS:")
    print(f"    expected: {visible(view.expected)}")
    print(f"    actual:   {visible(view.actual)}")
    if view.fix:
        print(f"    what to do: {visible(view.fix)}")
    keys = {d[0]: d for d in DECISIONS}
    while True:
        answer = ask("  Decide: r(etry), g(o on, recorded as an exception), s(top here): ")
        decision = keys.get(answer.strip().lower()[:1])
        if decision:
            who = _who(run, "administrator", "who decides", run.ceremony.operator)
            return run.decide(decision, who)
