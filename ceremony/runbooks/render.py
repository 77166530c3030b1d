"""A runbook as people print it, and as a dry run tells what would happen.

``runbook show`` prints the document itself: the prose as written, the
header as a list of who must be present and what to bring, and each step in
the plain grammar (DO, CHECK, ASK, IF ... THEN GO TO, END), with the RFC
2119 word, who acts, and blanks for initials and the time. Each act ends
with a line for the head hash words the witnesses write down, and the
close with a table where every participant signs agree or do not agree.
"""

from __future__ import annotations

from ceremony.runbooks import spec
from ceremony.runbooks.format import END, Act, Runbook, Step
from ceremony.text import visible

BLANK = "________"


def _wrap(text: str, indent: str, width: int = 78) -> list[str]:
    words, lines, line = visible(text).split(), [], ""
    for word in words:
        if line and len(indent) + len(line) + 1 + len(word) > width:
            lines.append(indent + line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, indent + line] if line else lines


def header_lines(runbook: Runbook) -> list[str]:
    out = [f"RUNBOOK {runbook.name}: {visible(runbook.title)}", ""]
    out += _wrap(runbook.purpose, "")
    out += ["", f"Time: {visible(runbook.time)}", "", "Who MUST be present:"]
    out += [f"  {visible(role)}: {visible(text)}" for role, text in runbook.present.items()]
    out += ["", "Materials:"]
    out += [f"  [ ] {visible(item)}: {visible(text)}" for item, text in runbook.materials.items()]
    if runbook.before:
        out += ["", f"Comes after: {', '.join(runbook.before)}"]
    if runbook.sites:
        out += ["", f"Run once at each site: {', '.join(runbook.sites)}"]
    out += ["", "Participants:", f"  {'Role':<16}{'Name':<28}Initials"]
    for role in runbook.present:
        out.append(f"  {visible(role):<16}{BLANK * 3:<28}{BLANK}")
    return out


def _act_lines(act: Act) -> list[str]:
    title = f"ACT {visible(act.id)}: {visible(act.title)}"
    if act.time:
        title += f" ({visible(act.time)})"
    return [title, "=" * len(title)]


def _act_end(act: Act) -> list[str]:
    return [
        f"End of act {visible(act.id)}: head hash, first 8 words:",
        f"  {BLANK * 7}   Witness initials {BLANK}",
        "",
    ]


def step_lines(runbook: Runbook, step: Step) -> list[str]:
    """One step in the plain grammar, with blanks for initials and time."""
    number = [s.id for s in runbook.steps].index(step.id) + 1
    loop = f" FOR EACH {step.each[0]} IN {step.each[1]}" if step.each else ""
    out = [f"[ ] {number}. {step.id} ({step.level}) WHO: {visible(step.who)}{loop}"]
    out += _wrap(step.say, "      ")
    if step.kind == "do" and step.action is not None:
        out += _wrap(f"DO {step.action}: {spec.ACTIONS[step.action].summary}", "      ")
        out += [f"        {name}: {visible(value)}" for name, value in step.params.items()]
    elif step.kind == "check":
        out += _wrap(f"CHECK: {step.text}", "      ")
    elif step.kind == "ask":
        out += _wrap(f"ASK: {step.text} ({' / '.join(step.answers)})", "      ")
    else:
        out += [*_wrap(f"ENTER: {step.text}", "      "), f"      {BLANK * 4}"]
    for result, target in step.forks.items():
        out.append(f"      IF {result} THEN {_jump(target)}")
    if step.goto:
        out.append(f"      THEN {_jump(step.goto)}")
    out.append(f"      Initials {BLANK}   Time {BLANK}   Result {BLANK}")
    return out


def _jump(target: str) -> str:
    return "END" if target == END else f"GO TO {target}"


def printable(runbook: Runbook) -> str:
    """The whole runbook for print: prose as written, blocks in the plain grammar."""
    lines = runbook.text.splitlines()
    blocks = {block.first: block for block in runbook.blocks}
    out: list[str] = []
    number, last_act = 1, None
    while number <= len(lines):
        block = blocks.get(number)
        if block is None:
            out.append(visible(lines[number - 1]))
            number += 1
            continue
        if block.kind == "runbook":
            out += header_lines(runbook)
        elif block.kind == "act":
            if last_act is not None:
                out += _act_end(runbook.act(last_act))
            last_act = block.id
            out += _act_lines(runbook.act(block.id))
        else:
            out += step_lines(runbook, runbook.step(block.id))
        number = block.last + 1
    if last_act is not None:
        out += _act_end(runbook.act(last_act))
    out += [
        "At the close, every participant:",
        f"  {'Name':<28}{'Agree / do not agree':<24}Signature",
    ]
    out += [f"  {BLANK * 3:<28}{'agree / do not agree':<24}{BLANK}" for _ in range(6)]
    return "\n".join(out).rstrip() + "\n"


def dry_run(runbook: Runbook, situation: str) -> str:
    """What ``runbook run`` would do, step by step, with nothing touched."""
    out = [f"Dry run of {runbook.name}: {visible(runbook.title)}", situation, ""]
    for act in runbook.acts:
        out += _act_lines(act)
        for step in (s for s in runbook.steps if s.act == act.id):
            out += [*step_lines(runbook, step)[:-1], ""]
        out.append(f"  (end of act {act.id}: the head hash is shown as words)")
        out.append("")
    out.append("Nothing was changed: no record was opened, no token was used.")
    return "\n".join(out) + "\n"
