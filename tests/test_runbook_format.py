"""The runbook format: strict checks that name the file and line, and printing.

A small valid runbook is written out, one fault is put in it, and the
checker must refuse it naming exactly the line of the fault (found in the
text, not written down here).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ceremony.cli import main
from ceremony.runbooks import spec
from ceremony.runbooks.format import RunbookInvalid, load
from ceremony.runbooks.library import Library
from ceremony.runbooks.render import printable

VALID = """\
# A small ceremony

Prose for people: not read by the tool.

```runbook
runbook: small
title: A small ceremony
purpose: check the checker
workspace: any
time: 5 minutes
present:
  administrator: one
  witnesses: two
  holders: every holder
materials:
  tokens: one per holder
```

```act
act: 1
title: Opening
```

```step
step: names
who: administrator
say: Type the holders' names.
enter: the names
type: names
into: holders
rehearse: {rehearsal.holders}
```

```step
step: bags
who: holders
each: holder in holders
say: {holder} shows the bag.
do: bag-open
with:
  item: token of {holder}
```

```step
step: question
who: administrator
say: Go on?
ask: go on?
answers: yes, no
if yes: go to last
if no: end
```

```act
act: 2
title: Closing
```

```step
step: last
who: witnesses
say: Close.
do: close
```
"""


def _write(tmp_path: Path, text: str, name: str = "small") -> Path:
    path = tmp_path / f"{name}.md"
    path.write_text(text)
    return path


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_the_small_runbook_is_valid(tmp_path):
    runbook = load(_write(tmp_path, VALID))
    assert [s.id for s in runbook.steps] == ["names", "bags", "question", "last"]
    assert runbook.step("question").forks == {"yes": "last", "no": "end"}
    assert runbook.step("bags").each == ("holder", "holders")
    assert runbook.step("bags").params == {"item": "token of {holder}"}
    assert [a.title for a in runbook.acts] == ["Opening", "Closing"]


# (a line of VALID, what it becomes, words the message holds, where the problem is:
#  the changed line itself, or the start of the step block holding it)
LINE, STEP = "line", "step"
FAULTS = [
    ("say: Close.", "say: Close.\ncolour: red", "unknown field 'colour'", "colour", LINE),
    ("do: bag-open", "do: bag-opne", "unknown action 'bag-opne'", "bag-opne", LINE),
    ("if yes: go to last", "if yes: go to lats", "GO TO 'lats': there is no step", "lats", LINE),
    ("  item: token", "  itme: token", "no parameter 'itme'", "itme", LINE),
    ("who: witnesses", "who: auditors", "'auditors' is not among the people", "auditors", LINE),
    ("if no: end", "if maybe: end", "IF 'maybe'", "maybe", LINE),
    ("runbook: small", "runbook: other", "its file is 'small.md'", "runbook: other", LINE),
    ("workspace: any", "workspace: here", "workspace must be one of", "workspace: here", LINE),
    ("say: Go on?", "say: Go on?\nlevel: MAYBE", "level must be MUST or SHOULD", "MAYBE", LINE),
    ("type: names", "type: colour", "type (of an enter step)", "colour", LINE),
    ("say: Close.", "say: Close {nobody}.", "no step sets {nobody}", "{nobody}", STEP),
    ("each: holder in", "each: holder in people", "no step sets the list", "in people", STEP),
]


@pytest.mark.parametrize(("old", "new", "words", "fragment", "where"), FAULTS)
def test_a_fault_is_refused_naming_its_line(tmp_path, old, new, words, fragment, where):
    lines = VALID.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(old))
    lines[index] = lines[index].replace(old, new, 1) if old.startswith("  ") else new
    text = "\n".join(lines) + "\n"
    path = _write(tmp_path, text)
    with pytest.raises(RunbookInvalid) as refused:
        load(path)
    problems = [p for p in refused.value.problems if words in p.message]
    assert problems, [str(p) for p in refused.value.problems]
    line = _line_of(text, fragment)
    if where == STEP:
        opening = [i for i, t in enumerate(text.splitlines(), 1) if t.startswith("```step")]
        line = max(i for i in opening if i < line)
    assert problems[0].line == line
    assert f"{path}:{line}:" in refused.value.problem


def test_every_problem_is_reported_at_once(tmp_path):
    text = VALID.replace("do: bag-open", "do: bag-opne").replace("go to last", "go to nowhere")
    text = text.replace("say: Close.", "say: Close.\nflavour: salty")
    with pytest.raises(RunbookInvalid) as refused:
        load(_write(tmp_path, text))
    lines = {p.line for p in refused.value.problems}
    assert {
        _line_of(text, "bag-opne"),
        _line_of(text, "nowhere"),
        _line_of(text, "flavour"),
    } <= lines


def test_structure_faults(tmp_path):
    cases = {
        "unclosed": VALID.rstrip("`\n") + "\n",
        "no header": VALID.replace("```runbook", "```text", 1),
        "twice": VALID.replace("step: last", "step: names"),
        "two kinds": VALID.replace("do: close", "do: close\ncheck: done"),
    }
    messages = {
        "unclosed": "never closed",
        "no header": "begins with a ```runbook block",
        "twice": "defined twice",
        "two kinds": "exactly one of do",
    }
    for name, text in cases.items():
        with pytest.raises(RunbookInvalid) as refused:
            load(_write(tmp_path, text))
        assert any(messages[name] in p.message for p in refused.value.problems), name


def test_other_fences_are_prose(tmp_path):
    text = VALID.replace("Prose for people", "```sh\nceremony runbook run small\n```\nProse")
    assert len(load(_write(tmp_path, text)).steps) == 4


def test_the_cli_check_names_the_line(tmp_path, capsys):
    text = VALID.replace("do: bag-open", "do: bag-opne")
    path = _write(tmp_path, text)
    assert main(["runbook", "check", str(path)]) == 2
    assert f"{path}:{_line_of(text, 'bag-opne')}: unknown action" in capsys.readouterr().err
    assert main(["runbook", "check", str(_write(tmp_path, VALID))]) == 0
    assert "ok:" in capsys.readouterr().out


def test_a_project_brings_its_own_runbooks(tmp_path, capsys):
    folder = tmp_path / "own"
    folder.mkdir()
    _write(folder, VALID)
    assert "small" in Library.load(None, str(folder)).names()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "ceremony.toml").write_text(
        '[repository]\nname = "x"\n\n[runbooks]\ndir = "../own"\n'
    )
    assert main(["--workspace", str(workspace), "runbook", "list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^small\s+A small ceremony\s+5 minutes\s+project$", listing, re.M)
    assert "root-rotation" in listing
    replacing = VALID.replace("runbook: small", "runbook: root-rotation")
    _write(folder, replacing, "root-rotation")
    assert main(["--workspace", str(workspace), "runbook", "list"]) == 0
    assert "project (replaces the shipped one)" in capsys.readouterr().out
    (folder / "root-rotation.md").unlink()
    bad = _write(folder, VALID.replace("say: Close.", "say: Close.\nwhen: now"))
    assert main(["--workspace", str(workspace), "runbook", "list"]) == 2
    line = _line_of(bad.read_text(), "when: now")
    assert f"own/small.md:{line}: unknown field 'when'" in capsys.readouterr().err


def test_before_must_name_runbooks(tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    _write(folder, VALID.replace("workspace: any", "workspace: any\nbefore: nothing-here"))
    with pytest.raises(RunbookInvalid) as refused:
        Library.load(None, str(folder))
    assert "before: no runbook 'nothing-here'" in refused.value.problem
    looped = VALID.replace("workspace: any", "workspace: any\nbefore: small")
    _write(folder, looped)
    with pytest.raises(RunbookInvalid) as refused:
        Library.load(None, str(folder))
    assert "comes back to itself" in refused.value.problem


def test_chain_of_a_shipped_runbook():
    names = [r.name for r in Library.load().chain("root-rotation")]
    assert names == ["provision-token", "root-key-generation", "root-rotation"]


def test_printable_runbook(tmp_path):
    runbook = load(_write(tmp_path, VALID))
    text = printable(runbook)
    assert "Prose for people" in text and "```" not in text
    assert "Who MUST be present:" in text and "[ ] tokens: one per holder" in text
    for step in runbook.steps:
        assert re.search(rf"^\[ \] \d+\. {step.id} \(MUST\) WHO: ", text, re.M)
    assert text.count("Initials ________   Time ________") == len(runbook.steps)
    assert "IF yes THEN GO TO last" in text and "IF no THEN END" in text
    assert text.count("End of act") == 2 and "agree / do not agree" in text


def test_show_and_dry_run_on_the_cli(tmp_path, capsys):
    assert main(["runbook", "show", "root-rotation"]) == 0
    shown = capsys.readouterr().out
    assert "FOR EACH holder IN joining" in shown and "DO add-remote-keys" in shown
    workspace = tmp_path / "nothing"
    assert (
        main(["--workspace", str(workspace), "runbook", "run", "root-rotation", "--dry-run"]) == 0
    )
    out = capsys.readouterr().out
    assert "Would be refused" in out and "Nothing was changed" in out
    assert not workspace.exists()


def test_docs_describe_every_action():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "runbooks.md").read_text()
    for name, action in spec.ACTIONS.items():
        row = next((row for row in docs.splitlines() if row.startswith(f"| `{name}` |")), None)
        assert row is not None, f"docs/runbooks.md has no row for {name}"
        for param in action.params:
            assert param.name in row, f"{name}: parameter {param.name} not documented"
        for result in action.results:
            assert result in row, f"{name}: result {result} not documented"
