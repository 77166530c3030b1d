"""The runbook engine, driven as a front end drives it: views in, answers out.

A small drill runbook (checks MUST and SHOULD, typed names, bags sealed and
opened, a fork, an action that fails, the close) is walked through the
engine's API; each test reads back the records the run wrote and checks
what they say: exceptions with expected, actual, decision and who decided;
the head hash noted at an act's end; each participant's agreement; a run
stopped and resumed at the same step.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ceremony import audit
from ceremony.errors import BadInput, WorkspaceError
from ceremony.runbooks import engine
from ceremony.runbooks.format import load
from ceremony.session import Ceremony

DRILL = """\
```runbook
runbook: drill
title: Drill
purpose: exercise the engine
workspace: any
time: 5 minutes
present:
  administrator: one
  witnesses: two
  holders: the holders
materials:
  bags: one per holder
```

```act
act: 1
title: Opening
```

```step
step: door
who: administrator
say: Look at the door.
check: the door is shut
```

```step
step: coffee
who: witnesses
level: SHOULD
say: Taste the coffee.
check: the coffee is hot
```

```step
step: names
who: administrator
say: Type the holders.
enter: the holders' names
type: names
into: holders
```

```step
step: seal
who: holders
each: holder in holders
say: {holder} seals their token.
do: bag-seal
with:
  item: token of {holder}
```

```act
act: 2
title: Reopening
```

```step
step: open
who: administrator
say: Open the first bag again.
do: bag-open
with:
  item: token of Ann
if match: go to key-file
if mismatch: go to close
```

```step
step: key-file
who: administrator
say: Type the key file.
enter: the key file
type: path
into: key-file
```

```step
step: load
who: administrator
say: Load the key.
do: load-key
with:
  file: {key-file}
  owner: online
```

```step
step: close
who: administrator
say: Close.
do: close
with:
  outcome: drill done
```
"""


@pytest.fixture
def drill(tmp_path: Path):
    path = tmp_path / "books" / "drill.md"
    path.parent.mkdir()
    path.write_text(DRILL)
    return load(path)


def _ceremony(workspace: Path) -> Ceremony:
    return Ceremony(workspace, operator="Olga", allow_network=True)


def _records(workspace: Path, event: str | None = None) -> list[dict]:
    (path,) = sorted((workspace / "transcripts").glob("*.jsonl"))
    records, _ = audit.read_records(path)
    return [r for r in records if event is None or r["event"] == event]


def _to_seal(run: engine.Run) -> engine.View:
    """Through act 1's checks and names, to the first bag to seal."""
    run.confirm("Olga")
    run.confirm("Wes")
    return run.answer("Ann, Ben", "Olga")


def _seal_all(run: engine.Run, numbers=("B-1", "B-2")) -> engine.View:
    view = run.current()
    for number in numbers:
        assert isinstance(view, engine.ActionStep) and view.action == "bag-seal"
        assert [i.name for i in view.inputs] == ["number", "again"]
        run.preview()
        result = run.perform(inputs={"number": number, "again": number})
        assert isinstance(result, engine.ResultView), result
        view = run.confirm(view.person or "?")
    return view


def test_a_mandatory_check_not_confirmed_is_an_exception(tmp_path, drill):
    workspace = tmp_path / "ws"
    with _ceremony(workspace) as ceremony:
        run = engine.Run.open(ceremony, drill, witnesses=("Wes",))
        view = run.current()
        assert isinstance(view, engine.CheckStep) and view.mandatory and view.who == "administrator"
        view = run.confirm("Olga", confirmed=False)
        assert isinstance(view, engine.IrregularView)
        assert view.expected == "the door is shut" and view.actual == "not confirmed by Olga"
        with pytest.raises(BadInput):
            run.decide("shrug", "Wes")
        view = run.decide(engine.GO_ON, "Wes")
        assert isinstance(view, engine.CheckStep) and view.step.id == "coffee"
        view = run.confirm("Wes", confirmed=False)  # SHOULD: recorded, no exception
        assert isinstance(view, engine.EntryStep)
    exceptions = [r for r in _records(workspace, audit.EXCEPTION) if "run" in r["details"]]
    assert len(exceptions) == 1
    details = exceptions[0]["details"]
    assert (details["expected"], details["actual"]) == ("the door is shut", "not confirmed by Olga")
    assert details["decision"] == "went on" and details["decided_by"] == "Wes"
    assert exceptions[0]["actor"] == "Wes"
    done = [
        r["details"] for r in _records(workspace, audit.STEP) if r["details"]["state"] == "done"
    ]
    assert [(d["step"], d["result"], d["confirmed_by"]) for d in done] == [
        ("door", "not-confirmed", "Wes"),
        ("coffee", "not-confirmed", "Wes"),
    ]


def test_bags_sealed_act_end_and_a_mismatch(tmp_path, drill):
    workspace = tmp_path / "ws"
    with _ceremony(workspace) as ceremony:
        run = engine.Run.open(ceremony, drill, witnesses=("Wes",))
        view = _to_seal(run)
        assert view.person == "Ann" and view.instruction == "Ann seals their token."
        run.preview()
        failed = run.perform(inputs={"number": "B-1", "again": "B-7"})
        assert isinstance(failed, engine.IrregularView) and "read back as B-7" in failed.actual
        assert isinstance(run.decide(engine.RETRY, "Olga"), engine.ActionStep)
        view = _seal_all(run)
        assert isinstance(view, engine.ActEndView)
        head_before = ceremony.transcript.head_hash
        assert view.head == head_before and len(view.words) == 32
        view = run.confirm("Wes")
        assert isinstance(view, engine.ActionStep) and view.step.id == "open"
        assert [i.name for i in view.inputs] == ["number"]  # sealed here: no paper log needed
        run.preview()
        view = run.perform(inputs={"number": "B-9"})
        assert isinstance(view, engine.IrregularView)
        assert "B-1" in view.expected and "B-9" in view.actual
        view = run.decide(engine.GO_ON, "Olga")
        assert isinstance(view, engine.ActionStep) and view.step.id == "close"  # IF mismatch
    records = _records(workspace)
    act_end = next(r for r in records if r["event"] == audit.ACT_END)
    assert act_end["details"]["head_sha256"] == head_before == act_end["prev"]
    assert act_end["actor"] == "Wes"
    sealed = [
        r["details"]
        for r in records
        if r["event"] == audit.STEP
        and r["details"]["step"] == "seal"
        and r["details"]["state"] == "done"
    ]
    assert [d["outputs"] for d in sealed] == [
        {"bag.token of Ann": "B-1"},
        {"bag.token of Ben": "B-2"},
    ]
    mismatch = [r for r in records if r["event"] == audit.EXCEPTION and r["details"].get("step")]
    assert [r["details"]["step"] for r in mismatch] == ["open"]  # the seal was retried


def test_stopped_then_resumed_at_the_same_step_and_closed(tmp_path, drill):
    workspace = tmp_path / "ws"
    key_file = tmp_path / "online.pem"
    with _ceremony(workspace) as ceremony:
        run = engine.Run.open(ceremony, drill, witnesses=("Wes",))
        _to_seal(run)
        _seal_all(run)
        run.confirm("Wes")
        run.preview()
        assert isinstance(run.perform(inputs={"number": "B-1"}), engine.ResultView)
        run.confirm("Olga")
        run.answer(str(key_file), "Olga")
        assert isinstance(run.preview(), engine.PlannedView)
        view = run.perform()
        assert isinstance(view, engine.IrregularView) and str(key_file) in view.actual
        stopped = run.decide(engine.STOP, "Olga")
        assert isinstance(stopped, engine.FinishedView) and stopped.stopped and not stopped.closed
        run_id = run.run_id
    private = ec.generate_private_key(ec.SECP256R1())
    key_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with _ceremony(workspace) as ceremony:
        run = engine.Run.open(ceremony, drill)
        assert run.resumed and run.run_id == run_id
        view = run.current()
        assert isinstance(view, engine.ActionStep) and view.step.id == "load"
        assert run.values["holders"] == ["Ann", "Ben"]
        run.preview()
        result = run.perform()
        assert isinstance(result, engine.ResultView) and result.result == "done"
        view = run.confirm("Olga")
        assert isinstance(view, engine.ActionStep) and view.step.id == "close"
        assert [i.name for i in view.inputs] == [
            "agree:Olga",
            "agree:Wes",
            "agree:Ann",
            "agree:Ben",
        ]
        run.preview()
        with pytest.raises(BadInput):
            run.confirm("Olga")  # the action has not been carried out
        answers = {
            "agree:Olga": "agree",
            "agree:Wes": "agree",
            "agree:Ann": "agree",
            "agree:Ben": "do not agree",
        }
        run.perform(inputs=answers)
        finished = run.confirm("Olga")
        assert isinstance(finished, engine.FinishedView) and finished.closed
        progress = {state.step.id: (state.state, state.results) for state in run.progress()}
        assert progress["seal"] == ("done", ("done", "done"))
        assert progress["open"] == ("done", ("match",))
        assert progress["load"] == ("done", ("done",)) and progress["close"][0] == "done"
    records = _records(workspace)
    assert audit.verify_transcript(next((workspace / "transcripts").glob("*.jsonl"))).closed
    agreements = {
        r["actor"]: r["details"]["agrees"] for r in records if r["event"] == audit.AGREEMENT
    }
    assert agreements == {"Olga": True, "Wes": True, "Ann": True, "Ben": False}
    close = records[-1]["details"]
    assert close["not_agreed"] == ["Ben"] and close["run"] == run_id and close["runbook"] == "drill"
    states = [r["details"].get("state") for r in records if r["event"] == audit.RUNBOOK]
    assert states == ["started", "resumed"]
    assert [
        r["details"]["decision"]
        for r in records
        if r["event"] == audit.EXCEPTION and r["details"].get("step") == "load"
    ] == ["stopped; the run resumes at this step"]


def test_answers_are_checked(tmp_path, drill):
    with _ceremony(tmp_path / "ws") as ceremony:
        run = engine.Run.open(ceremony, drill)
        with pytest.raises(BadInput):
            run.answer("yes", "Olga")  # a check is confirmed, not answered
        with pytest.raises(BadInput):
            run.skip("Olga")  # MUST
        run.confirm("Olga")
        assert isinstance(run.skip("Wes"), engine.EntryStep)  # SHOULD: skipped
        with pytest.raises(BadInput):
            run.answer("Ann, B{en", "Olga")
        with pytest.raises(BadInput):
            run.answer("Ann\x1b[2J", "Olga")
        view = run.answer("Ann", "Olga")
        assert isinstance(view, engine.ActionStep)
    done = [
        r["details"]
        for r in _records(tmp_path / "ws", audit.STEP)
        if r["details"]["state"] == "done"
    ]
    assert [d["result"] for d in done] == ["confirmed", "skipped", "done"]
    assert done[2]["var"] == "holders" and done[2]["answer"] == ["Ann"]


def test_a_changed_runbook_is_not_resumed(tmp_path, drill):
    with _ceremony(tmp_path / "ws") as ceremony:
        engine.Run.open(ceremony, drill).confirm("Olga")
    drill.path.write_text(DRILL.replace("Look at the door.", "Look at the window."))
    with _ceremony(tmp_path / "ws") as ceremony, pytest.raises(BadInput) as refused:
        engine.Run.open(ceremony, load(drill.path))
    assert "changed since this run began" in refused.value.problem


def test_another_runbooks_unfinished_run_is_refused(tmp_path, drill):
    with _ceremony(tmp_path / "ws") as ceremony:
        engine.Run.open(ceremony, drill)
    other = tmp_path / "books" / "other.md"
    other.write_text(DRILL.replace("runbook: drill", "runbook: other"))
    with _ceremony(tmp_path / "ws") as ceremony, pytest.raises(WorkspaceError) as refused:
        engine.Run.open(ceremony, load(other))
    assert "unfinished run of runbook 'drill'" in refused.value.problem


def test_a_runbook_needing_a_repository_writes_nothing_without_one(tmp_path):
    from ceremony.runbooks.library import Library

    folder = tmp_path / "empty"
    folder.mkdir()
    with _ceremony(folder) as ceremony, pytest.raises(WorkspaceError):
        engine.Run.open(ceremony, Library.load().get("root-rotation"))
    assert list(folder.iterdir()) == []


def test_run_at_the_terminal(tmp_path, drill, monkeypatch, capsys):
    """`ceremony runbook run` asks each question at the terminal, then closes the record."""
    from ceremony.cli import main

    key_file = tmp_path / "online.pem"
    private = ec.generate_private_key(ec.SECP256R1())
    key_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        assert len(asked) < 100, asked[-5:]
        for words, reply in (
            ("Confirmed? [y/n]", "y"),
            ("the holders' names", "Ann"),
            ("bag", "B-1"),
            ("same number", "B-1"),
            ("the key file", str(key_file)),
            ("agree or do not agree", "agree"),
        ):
            if words in prompt:
                return reply
        if prompt.strip().startswith("Name of") and "[" not in prompt:
            return "Olga"
        return ""

    monkeypatch.setattr("builtins.input", answer)
    workspace = tmp_path / "ws"
    argv = [
        "--workspace",
        str(workspace),
        "--operator",
        "Olga",
        "runbook",
        "run",
        "drill",
        "--runbooks",
        str(drill.path.parent),
        "--witness",
        "Wes",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Step 1/8 (act 1) door, MUST: administrator" in out
    assert "End of act 1: Opening" in out and "The record is closed." in out
    assert any("Name of the witness who wrote it down [Wes]" in p for p in asked)
    (path,) = sorted((workspace / "transcripts").glob("*.jsonl"))
    result = audit.verify_transcript(path)
    assert result.closed
    done = [
        r["details"]["step"]
        for r in audit.read_records(path)[0]
        if r["event"] == audit.STEP and r["details"]["state"] == "done"
    ]
    assert done == ["door", "coffee", "names", "seal", "open", "key-file", "load", "close"]


def test_progress_tells_skipped_and_nobody_to_do_it_for(tmp_path, drill):
    """A SHOULD step skipped is not shown as done, and a step for each holder
    with no holders is passed over, not left pending; resumed, the same."""
    with _ceremony(tmp_path / "ws") as ceremony:
        run = engine.Run.open(ceremony, drill)
        run.confirm("Olga")
        run.skip("Wes")
        before = {state.step.id: state.state for state in run.progress()}
        assert before["coffee"] == "skipped" and before["seal"] == "not done"
        run.answer("", "Olga")  # nobody holds a token in this drill
        after = {state.step.id: state.state for state in run.progress()}
        assert after["seal"] == "nobody" and after["open"] == "now"
        assert after["door"] == "done" and after["key-file"] == "not done"
    with _ceremony(tmp_path / "ws") as ceremony:
        resumed = engine.Run.open(ceremony, drill)
        assert {s.step.id: s.state for s in resumed.progress()} == after
