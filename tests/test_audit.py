"""The hash-chained transcript: tamper evidence, PIN safety, rendering."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import ceremony.airgap as airgap
import ceremony.audit as audit
import ceremony.session as session_module
from ceremony.airgap import IFF_RUNNING, IFF_UP, Interface, Readings, Route, preflight
from ceremony.audit import (
    CLOSE,
    CONFIRMATION,
    ERROR,
    EXCEPTION,
    GENESIS,
    PREFLIGHT,
    SIGNATURE_MADE,
    START,
    TOKEN_SEEN,
    Transcript,
    record_hash,
    render_markdown,
    render_text,
    verify_transcript,
)
from ceremony.cli import main as ceremony_main
from ceremony.errors import (
    BadInput,
    CheckFailed,
    NetworkUp,
    NoRecord,
    NotAWorkspace,
    WorkspaceError,
)
from ceremony.session import Ceremony
from ceremony.words import short_words, to_words

NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{6}-[a-z0-9-]+\.jsonl$")


def make_ceremony(workspace: Path, module: Path | None = None) -> Transcript:
    transcript = Transcript.start(
        workspace,
        title="Root key ceremony #1",
        operator="Alice Operator",
        witnesses=["Bob Witness", "Carol Witness"],
        module_path=module,
        tool_version="9.9.9",
    )
    transcript.record(PREFLIGHT, "Alice Operator", status="ok", network_up=False)
    transcript.record(TOKEN_SEEN, "Dave Holder", label="root-1", serial="0001", pin_state="ok")
    transcript.record(SIGNATURE_MADE, "Dave Holder", role="root", keyid="ab" * 32)
    transcript.record(CONFIRMATION, "Alice Operator", what="hash compared aloud")
    return transcript


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def rewrite(path: Path, index: int, change: dict[str, object]) -> None:
    lines = lines_of(path)
    record = json.loads(lines[index])
    record.update(change)
    lines[index] = json.dumps(record) + "\n"
    write_lines(path, lines)


# ------------------------------------------------------------------ writing


def test_start_record_describes_the_setup(tmp_path: Path) -> None:
    module = tmp_path / "libfake-pkcs11.so"
    module.write_bytes(b"not really a module")
    transcript = make_ceremony(tmp_path / "ws", module)
    assert transcript.path.parent == tmp_path / "ws" / "transcripts"
    assert NAME.match(transcript.path.name), transcript.path.name
    assert transcript.path.name.endswith("-root-key-ceremony-1.jsonl")

    first = json.loads(lines_of(transcript.path)[0])
    assert first["seq"] == 1
    assert first["event"] == START
    assert first["prev"] == GENESIS
    assert first["actor"] == "Alice Operator"
    details = first["details"]
    assert details["title"] == "Root key ceremony #1"
    assert details["witnesses"] == ["Bob Witness", "Carol Witness"]
    assert details["tool_version"] == "9.9.9"
    assert details["module_path"] == str(module)
    assert details["module_sha256"] == hashlib.sha256(b"not really a module").hexdigest()
    assert details["workspace"] == str((tmp_path / "ws").resolve())
    for key in ("python", "os", "hostname"):
        assert details[key]
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", first["time"])


def test_each_record_links_to_the_one_before(tmp_path: Path) -> None:
    transcript = make_ceremony(tmp_path)
    records = [json.loads(line) for line in lines_of(transcript.path)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(records):
        assert after["prev"] == record_hash(before)
    assert transcript.head_hash == record_hash(records[-1])


def test_close_returns_the_head_hash_and_verify_agrees(tmp_path: Path) -> None:
    transcript = make_ceremony(tmp_path)
    head = transcript.close("Alice Operator")
    result = verify_transcript(transcript.path)
    assert result.head_hash == head
    assert result.records == 6
    assert result.closed
    assert result.title == "Root key ceremony #1"
    assert json.loads(lines_of(transcript.path)[-1])["event"] == CLOSE


def test_nothing_is_recorded_after_close(tmp_path: Path) -> None:
    transcript = make_ceremony(tmp_path)
    transcript.close()
    with pytest.raises(BadInput, match="closed"):
        transcript.record(CONFIRMATION, "Alice", what="late")


def test_unknown_events_and_floats_are_refused(tmp_path: Path) -> None:
    transcript = make_ceremony(tmp_path)
    with pytest.raises(ValueError, match="unknown transcript event"):
        transcript.record("signature_maed", "Dave")
    with pytest.raises(ValueError, match="cannot go into the transcript"):
        transcript.record(CONFIRMATION, "Dave", ratio=0.5)
    verify_transcript(transcript.path)


# --------------------------------------------------------------- PIN safety


@pytest.mark.parametrize(
    "details",
    [
        {"pin": "123456"},
        {"PIN": "123456"},
        {"so_pin": "12345678"},
        {"So-Pin": "12345678"},
        {"user_pin": "1"},
        {"Password": "x"},
        {"passphrase": "x"},
        {"token_secret": "x"},
        {"login": {"pin": "123456"}},
        {"attempts": [{"new_pin": "1"}]},
    ],
)
def test_secret_looking_keys_are_refused(tmp_path: Path, details: dict[str, object]) -> None:
    transcript = make_ceremony(tmp_path)
    before = transcript.path.read_bytes()
    with pytest.raises(ValueError, match="looks like a secret"):
        transcript.record(TOKEN_SEEN, "Dave", **details)
    assert transcript.path.read_bytes() == before
    assert b"123456" not in transcript.path.read_bytes()


def test_pin_state_is_not_a_secret(tmp_path: Path) -> None:
    transcript = make_ceremony(tmp_path)
    transcript.record(TOKEN_SEEN, "Dave", pin_state="final try", pin_locked=False)


# ------------------------------------------------------------------ tamper


@pytest.fixture
def closed(tmp_path: Path) -> Path:
    transcript = make_ceremony(tmp_path)
    transcript.close("Alice Operator")
    return transcript.path


def test_untouched_transcript_verifies(closed: Path) -> None:
    assert verify_transcript(closed).records == 6


def test_edited_record_breaks_the_chain(closed: Path) -> None:
    rewrite(closed, 3, {"details": {"role": "targets", "keyid": "ab" * 32}})
    with pytest.raises(CheckFailed, match=r"record 5 \(line 5\).*does not match record 4"):
        verify_transcript(closed)


def test_edited_actor_breaks_the_chain(closed: Path) -> None:
    rewrite(closed, 1, {"actor": "Mallory"})
    with pytest.raises(CheckFailed, match=r"record 3"):
        verify_transcript(closed)


def test_edited_last_record_is_caught_by_the_written_down_head(closed: Path) -> None:
    head = verify_transcript(closed).head_hash
    rewrite(closed, 5, {"actor": "Mallory"})
    with pytest.raises(CheckFailed, match="head hash"):
        verify_transcript(closed, expected_head=head)


def test_removed_record_breaks_the_chain(closed: Path) -> None:
    lines = lines_of(closed)
    del lines[2]
    write_lines(closed, lines)
    with pytest.raises(CheckFailed, match=r"record 3 \(line 3\).*says seq 4"):
        verify_transcript(closed)


def test_removed_record_with_renumbering_still_breaks(closed: Path) -> None:
    lines = lines_of(closed)
    del lines[2]
    write_lines(closed, lines)
    for index in range(2, len(lines)):
        rewrite(closed, index, {"seq": index + 1})
    with pytest.raises(CheckFailed, match=r"record 3 .*prev hash"):
        verify_transcript(closed)


def test_inserted_record_breaks_the_chain(closed: Path) -> None:
    lines = lines_of(closed)
    previous = json.loads(lines[1])
    forged = {
        "seq": 3,
        "time": previous["time"],
        "event": SIGNATURE_MADE,
        "actor": "Mallory",
        "details": {"role": "root"},
        "prev": record_hash(previous),
    }
    lines.insert(2, json.dumps(forged) + "\n")
    write_lines(closed, lines)
    for index in range(3, len(lines)):
        rewrite(closed, index, {"seq": index + 1})
    with pytest.raises(CheckFailed, match=r"record 4 \(line 4\).*prev hash"):
        verify_transcript(closed)


def test_reordered_records_break_the_chain(closed: Path) -> None:
    lines = lines_of(closed)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(closed, lines)
    with pytest.raises(CheckFailed, match=r"record 3 \(line 3\)"):
        verify_transcript(closed)


def test_reordered_with_renumbering_still_breaks(closed: Path) -> None:
    lines = lines_of(closed)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(closed, lines)
    rewrite(closed, 2, {"seq": 3})
    rewrite(closed, 3, {"seq": 4})
    with pytest.raises(CheckFailed, match=r"record 3 .*prev hash"):
        verify_transcript(closed)


def test_garbage_line_and_records_after_close(closed: Path) -> None:
    original = closed.read_bytes()
    closed.write_bytes(original.replace(b'"seq":2', b'"seq":2,,', 1))
    with pytest.raises(CheckFailed, match=r"record 2 .*not valid JSON"):
        verify_transcript(closed)
    last = json.loads(original.splitlines()[-1])
    extra = {**last, "seq": 7, "event": CONFIRMATION, "prev": record_hash(last)}
    closed.write_bytes(original + json.dumps(extra).encode() + b"\n")
    with pytest.raises(CheckFailed, match="after the close record"):
        verify_transcript(closed)


def test_interrupted_write_leaves_a_verifiable_prefix(tmp_path: Path) -> None:
    transcript = make_ceremony(tmp_path)
    head = transcript.head_hash
    with open(transcript.path, "ab") as handle:
        handle.write(b'{"seq":6,"time":"2026-')
    result = verify_transcript(transcript.path)
    assert result.incomplete_tail
    assert result.head_hash == head

    reopened = Transcript(transcript.path)
    assert reopened.seq == 6
    assert json.loads(lines_of(transcript.path)[-1])["event"] == EXCEPTION
    result = verify_transcript(transcript.path)
    assert not result.incomplete_tail
    assert result.records == 6


# --------------------------------------------------------- current ceremony


def test_current_is_the_newest_open_transcript(tmp_path: Path) -> None:
    assert Transcript.current(tmp_path) is None
    first = make_ceremony(tmp_path)
    assert Transcript.current(tmp_path).path == first.path  # type: ignore[union-attr]
    second = Transcript.start(tmp_path, title="Second", operator="Alice")
    assert second.path != first.path
    assert Transcript.current(tmp_path).path == second.path  # type: ignore[union-attr]
    second.close()
    assert Transcript.current(tmp_path) is None


def test_begin_reuses_today_and_starts_fresh_tomorrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    monkeypatch.setattr(audit, "_utc_now", lambda: day)
    monkeypatch.setattr(session_module, "datetime", _Frozen(day))
    first = session(tmp_path, "Alice").begin()
    assert first.title == "Ceremony of 2026-11-27"
    again = session(tmp_path, "Alice").begin()
    assert again.path == first.path

    monkeypatch.setattr(audit, "_utc_now", lambda: day + timedelta(days=1))
    monkeypatch.setattr(session_module, "datetime", _Frozen(day + timedelta(days=1)))
    later = session(tmp_path, "Alice").begin()
    assert later.path != first.path
    assert later.title == "Ceremony of 2026-11-28"
    start = json.loads(lines_of(later.path)[0])
    assert start["details"]["implicit"] is True
    assert verify_transcript(first.path).closed is False


class _Frozen:
    """datetime with a fixed now(), for the session's idea of today."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self, tz: object = None) -> datetime:
        return self.moment


def session(path: Path, operator: str | None, readings: Readings | None = None, **kw) -> Ceremony:
    return Ceremony(path, operator=operator, check=lambda: preflight(readings or OFFLINE), **kw)


def test_implicit_record_needs_an_operator(tmp_path: Path) -> None:
    with pytest.raises(NoRecord, match="operator"):
        session(tmp_path, None).begin()
    assert not (tmp_path / "transcripts").exists()


def test_after_close_a_command_without_operator_is_refused(tmp_path: Path) -> None:
    first = session(tmp_path, "Alice").begin()
    first.close("Alice")
    with pytest.raises(NoRecord):
        session(tmp_path, None).begin()
    assert [p.name for p in (tmp_path / "transcripts").iterdir()] == [first.path.name]


def test_explicit_start_refused_while_a_record_is_open(tmp_path: Path) -> None:
    (tmp_path / "ceremony.toml").write_text('[repository]\nname = "x"\n')
    first = session(tmp_path, "Alice").start("First")
    with pytest.raises(WorkspaceError, match="already open") as refused:
        session(tmp_path, "Alice").start("Second")
    assert "audit close" in refused.value.fix
    assert Transcript.current(tmp_path).path == first.path  # type: ignore[union-attr]


def test_explicit_start_on_a_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    typo = tmp_path / "wrokspace"
    with pytest.raises(NotAWorkspace, match="not a ceremony workspace"):
        session(typo, "Alice").start("Root 1")
    assert not typo.exists()
    session(typo, "Alice").start("Root 1", new_workspace=True)
    assert (typo / "ceremony.toml").is_file()


# ----------------------------------------------------------------- rendering


def test_markdown_record_is_printable(closed: Path) -> None:
    text = render_markdown(closed)
    head = verify_transcript(closed).head_hash
    assert "# Ceremony record: Root key ceremony #1" in text
    for name in ("Alice Operator", "Bob Witness", "Carol Witness", "Dave Holder"):
        assert name in text
    assert "| Key holder | Dave Holder | |" in text
    assert text.count("agree / do not agree") == 6 * 2
    assert "### 4. Signature made" in text
    assert head in text
    assert " ".join(to_words(head)[:8]) in text
    assert "verified, 6 records" in text


def test_text_render_shows_steps_and_head_words(closed: Path) -> None:
    text = render_text(closed)
    head = verify_transcript(closed).head_hash
    assert "Root key ceremony #1" in text
    assert "Token inserted" in text
    assert short_words(head, 8) in text
    assert "abab" in text


def test_render_of_a_broken_transcript_says_so(closed: Path) -> None:
    rewrite(closed, 2, {"actor": "Mallory"})
    assert "BROKEN" in render_markdown(closed)
    assert "BROKEN" in render_text(closed)


# -------------------------------------------------------- begin and the CLI

OFFLINE = Readings(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC), entropy_avail=256)
ONLINE = Readings(
    now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    interfaces=(Interface("eth0", "up", IFF_UP | IFF_RUNNING),),
    default_routes=(Route("ipv4", "eth0"),),
    entropy_avail=256,
)


def events_of(path: Path) -> list[str]:
    return [json.loads(line)["event"] for line in lines_of(path)]


def test_begin_offline_records_the_preflight(tmp_path: Path) -> None:
    transcript = session(tmp_path, "Alice").begin()
    assert events_of(transcript.path) == [START, PREFLIGHT]
    assert session(tmp_path, None).begin().path == transcript.path


def test_begin_refuses_network_and_closes_the_attempt(tmp_path: Path) -> None:
    with pytest.raises(NetworkUp, match="network is up: eth0"):
        session(tmp_path, "Alice", ONLINE).begin()
    (path,) = (tmp_path / "transcripts").iterdir()
    assert events_of(path) == [START, PREFLIGHT, ERROR, CLOSE]
    verify_transcript(path)


def test_begin_with_allow_network_records_an_exception(tmp_path: Path) -> None:
    transcript = session(tmp_path, "Alice", ONLINE, allow_network=True).begin()
    assert events_of(transcript.path) == [START, PREFLIGHT, EXCEPTION]
    exception = json.loads(lines_of(transcript.path)[-1])["details"]
    assert exception["override"] == "network"
    assert "operator allowed" in exception["decision"]
    assert "eth0" in exception["happened"]


def run_cli(argv: list[str]) -> int:
    """The audit commands through the real entry point."""
    return ceremony_main(argv)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(airgap, "preflight", lambda readings=None: preflight(OFFLINE))


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CEREMONY_ALLOW_NETWORK", raising=False)
    monkeypatch.setattr(airgap, "preflight", lambda readings=None: preflight(ONLINE))


def start_args(workspace: Path, *extra: str) -> list[str]:
    return [
        "--workspace",
        str(workspace),
        "audit",
        "start",
        "--title",
        "Root 1",
        "--operator",
        "Alice",
        "--witness",
        "Bob",
        "--new-workspace",
        *extra,
    ]


@pytest.mark.usefixtures("online")
def test_cli_start_refuses_with_network_up(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(start_args(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "network is up: eth0" in err and "--allow-network" in err
    assert run_cli(start_args(tmp_path, "--allow-network")) == 0
    current = Transcript.current(tmp_path)
    assert current is not None
    assert events_of(current.path) == [START, PREFLIGHT, EXCEPTION]


@pytest.mark.usefixtures("offline")
def test_cli_ceremony_start_close_verify_show(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ws = ["--workspace", str(tmp_path)]
    assert run_cli(start_args(tmp_path)) == 0
    assert run_cli([*ws, "preflight"]) == 0
    assert run_cli([*ws, "audit", "close", "--operator", "Alice"]) == 0
    out = capsys.readouterr().out
    (path,) = (tmp_path / "transcripts").iterdir()
    head = verify_transcript(path).head_hash
    assert f"Final hash: {head}" in out
    assert " ".join(to_words(head)[:8]) in out
    assert events_of(path) == [START, PREFLIGHT, PREFLIGHT, CLOSE]

    assert run_cli([*ws, "audit", "verify", path.name]) == 0
    out = capsys.readouterr().out
    assert head in out and " ".join(to_words(head)[8:16]) in out
    words = " ".join(to_words(head))
    assert run_cli([*ws, "audit", "verify", str(path), "--expect", words]) == 0
    assert run_cli([*ws, "audit", "verify", "--expect", "0" * 64]) == 1

    out_file = tmp_path / "record.md"
    assert run_cli([*ws, "audit", "show", "--format", "md", "-o", str(out_file)]) == 0
    assert "agree / do not agree" in out_file.read_text()
    assert run_cli([*ws, "audit", "show"]) == 0
    assert "Ceremony record: Root 1" in capsys.readouterr().out


@pytest.mark.usefixtures("offline")
def test_cli_verify_names_the_first_broken_record(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    transcript = make_ceremony(tmp_path)
    transcript.close()
    rewrite(transcript.path, 2, {"actor": "Mallory"})
    assert run_cli(["--workspace", str(tmp_path), "audit", "verify"]) == 1
    assert "record 4 (line 4)" in capsys.readouterr().err


def test_cli_close_without_open_ceremony(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(["--workspace", str(tmp_path), "audit", "close"]) == 2
    assert "no open ceremony" in capsys.readouterr().err


@pytest.mark.usefixtures("online")
def test_cli_preflight_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(["--workspace", str(tmp_path), "preflight"]) == 1
    assert run_cli(["--workspace", str(tmp_path), "preflight", "--allow-network"]) == 0
    assert run_cli(["--workspace", str(tmp_path), "preflight", "--json", "--allow-network"]) == 0
    assert '"network_up": true' in capsys.readouterr().out


def test_two_writers_on_one_transcript_keep_one_chain(tmp_path: Path) -> None:
    first = make_ceremony(tmp_path)
    second = Transcript(first.path)
    first.record(CONFIRMATION, "Alice", what="from the screen")
    second.record(CONFIRMATION, "Alice", what="from the command line")
    first.record(CONFIRMATION, "Alice", what="from the screen again")
    assert first.seq == 8
    result = verify_transcript(first.path)
    assert result.records == 8
    assert result.head_hash == first.head_hash


def test_a_broken_transcript_cannot_be_continued(tmp_path: Path) -> None:
    transcript = make_ceremony(tmp_path)
    rewrite(transcript.path, 1, {"actor": "Mallory"})
    with pytest.raises(CheckFailed) as caught:
        Transcript.current(tmp_path)
    assert "audit start" in (caught.value.fix or "")


def test_head_hash_of_a_file(closed: Path) -> None:
    assert audit.head_hash(closed) == verify_transcript(closed).head_hash
