"""The ceremony transcript: a hash-chained JSON-lines record.

A ceremony is trusted because of its record. Each ceremony writes one file,
``<workspace>/transcripts/YYYY-MM-DD-HHMMSS-<slug>.jsonl``, one JSON object
per line with the fields:

- ``seq``: 1 for the first record, then 2, 3, ... (equal to the line number)
- ``time``: UTC, ISO 8601 (``2026-11-27T20:31:13Z``)
- ``event``: one of :data:`EVENTS`
- ``actor``: who acted (operator, key holder) or null
- ``details``: an object with what happened
- ``prev``: the SHA-256 (hex) of the previous record

The hash of a record is SHA-256 over its canonical JSON (securesystemslib's
``encode_canonical``, UTF-8), taken over all six fields, ``prev`` included;
a record holds no hash of itself. The first record's ``prev`` is
:data:`GENESIS`, 64 zeros. Editing a record changes its hash and breaks the
``prev`` of the record after it; removing, inserting or moving a record
breaks the ``seq`` numbering and the ``prev`` links. The one change the
chain alone cannot show is cutting records off the end: that is why the
head hash (the hash of the last record) is read aloud as words at close and
written down by the witnesses, to be compared later with
``ceremony audit verify``.

Records are appended with an fsync after the state they describe is safe on
disk. A PIN never enters the record: :meth:`Transcript.record` refuses
details whose keys look like secrets.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from securesystemslib.exceptions import FormatError
from securesystemslib.formats import encode_canonical

from ceremony import __version__
from ceremony.airgap import PreflightReport, require_airgap
from ceremony.errors import BadInput, CheckFailed, NetworkUp, WorkspaceError
from ceremony.fsutil import append_durable
from ceremony.text import visible
from ceremony.words import to_words

TRANSCRIPTS_DIR = "transcripts"
GENESIS = "0" * 64
FIELDS = ("seq", "time", "event", "actor", "details", "prev")

START = "start"
PREFLIGHT = "preflight"
TOKEN_SEEN = "token_seen"
KEY_GENERATED = "key_generated"
STAGED = "staged"
REVIEW_SHOWN = "review_shown"
SIGNATURE_MADE = "signature_made"
SIGNATURE_MERGED = "signature_merged"
PUBLISH = "publish"
EXPORT = "export"
IMPORT = "import"
TOKEN_INITIALISED = "token_initialised"
MODULE = "module"
ATTESTATION = "attestation"
ERROR = "error"
CONFIRMATION = "confirmation"
EXCEPTION = "exception"
RUNBOOK = "runbook"
STEP = "step"
ACT_END = "act_end"
AGREEMENT = "agreement"
CLOSE = "close"

#: Each event and the title it gets in a printed record.
EVENT_TITLES: dict[str, str] = {
    START: "Ceremony started",
    PREFLIGHT: "Air-gap preflight",
    TOKEN_SEEN: "Token inserted",
    KEY_GENERATED: "Key generated on the token",
    STAGED: "Metadata staged for signing",
    REVIEW_SHOWN: "Changes shown for review",
    SIGNATURE_MADE: "Signature made",
    SIGNATURE_MERGED: "Signature merged",
    PUBLISH: "Metadata published",
    EXPORT: "Files exported",
    IMPORT: "Files imported",
    TOKEN_INITIALISED: "Token initialised",
    MODULE: "PKCS#11 module loaded",
    ATTESTATION: "Key attestation checked",
    ERROR: "Error",
    CONFIRMATION: "Operator confirmed",
    EXCEPTION: "Exception to the procedure",
    RUNBOOK: "Runbook",
    STEP: "Runbook step",
    ACT_END: "End of act: head hash read aloud",
    AGREEMENT: "Participant's agreement",
    CLOSE: "Ceremony closed",
}
EVENTS = frozenset(EVENT_TITLES)

_SECRET_NAMES = frozenset({"pin", "so_pin", "user_pin", "new_pin", "old_pin", "puk"})
_SECRET_PARTS = ("password", "passwd", "passphrase", "secret")


# ------------------------------------------------------------------ hashing


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 hex of a record's canonical JSON (the value the next ``prev`` holds)."""
    try:
        canonical = encode_canonical(dict(record))
    except FormatError as error:
        raise ValueError(f"record cannot be put in canonical JSON: {error}") from None
    assert isinstance(canonical, str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(record: Mapping[str, Any]) -> bytes:
    """One JSON line; newlines inside strings are escaped, so one record is one line."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


# ------------------------------------------------------------ PIN safety


def looks_secret(key: str) -> bool:
    """True for a detail name that could hold a PIN, password or other secret."""
    name = key.lower().replace("-", "_").replace(" ", "_")
    if name in _SECRET_NAMES or name.endswith("_pin"):
        return True
    return any(part in name for part in _SECRET_PARTS)


def _check_no_secrets(value: Any, where: str = "details") -> None:
    """Refuse secret-looking keys anywhere inside the details."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if looks_secret(str(key)):
                raise ValueError(
                    f"{where} has a key {key!r} that looks like a secret; "
                    "a PIN or password never enters the transcript"
                )
            _check_no_secrets(inner, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for inner in value:
            _check_no_secrets(inner, where)


def _plain(value: Any) -> Any:
    """Details as canonical-JSON data: paths as text, tuples as lists, no floats."""
    if isinstance(value, Mapping):
        return {str(key): _plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_plain(inner) for inner in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | str):
        return value
    raise ValueError(f"{type(value).__name__} value {value!r} cannot go into the transcript")


# ------------------------------------------------------------- verifying


@dataclass(frozen=True)
class VerifyResult:
    """A transcript whose chain holds, up to its last complete record."""

    path: Path
    head_hash: str
    records: int
    closed: bool
    title: str | None
    incomplete_tail: bool = False


def _broken(path: Path, seq: int, why: str) -> CheckFailed:
    return CheckFailed(
        f"{path.name}: record {seq} (line {seq}) is broken: {why}",
        "the transcript was changed after it was written; keep this copy as evidence "
        "and compare with the head hash the witnesses wrote down",
    )


def _parse_line(path: Path, number: int, line: bytes) -> dict[str, Any]:
    """One line as a record with the expected fields, or the reason it is not."""
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _broken(path, number, "not valid JSON") from None
    if not isinstance(record, dict) or set(record) != set(FIELDS):
        raise _broken(path, number, f"fields are not exactly {', '.join(FIELDS)}")
    if not isinstance(record["details"], dict) or record["event"] not in EVENTS:
        raise _broken(path, number, "unknown event or details that are not an object")
    return record


def _check_link(path: Path, number: int, record: dict[str, Any], prev: str) -> None:
    """The record sits where its seq says and follows the record before it."""
    if record["seq"] != number:
        raise _broken(
            path,
            number,
            f"it says seq {record['seq']}: a record was removed, inserted or moved",
        )
    if record["prev"] != prev:
        what = "the first record" if number == 1 else f"record {number - 1}"
        raise _broken(
            path,
            number,
            f"its prev hash does not match {what}: that record was edited, "
            "removed, inserted or moved",
        )


def _split_lines(data: bytes) -> tuple[list[bytes], bool]:
    """Complete lines, and whether an interrupted write left a partial last line."""
    lines = data.split(b"\n")
    tail = lines.pop()
    return lines, bool(tail.strip())


def read_records(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """Parse and check every record; raise CheckFailed at the first broken one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInput(
            f"cannot read transcript {path}: {error.strerror}",
            "give the path of a transcript file (.jsonl) you can read",
        ) from None
    lines, incomplete = _split_lines(data)
    records: list[dict[str, Any]] = []
    prev = GENESIS
    for number, line in enumerate(lines, start=1):
        record = _parse_line(path, number, line)
        _check_link(path, number, record, prev)
        if records and records[-1]["event"] == CLOSE:
            raise _broken(path, number, "it comes after the close record")
        if number == 1 and record["event"] != START:
            raise _broken(path, number, "a transcript begins with a start record")
        try:
            prev = record_hash(record)
        except ValueError as error:
            raise _broken(path, number, str(error)) from None
        records.append(record)
    if not records and not incomplete:
        raise CheckFailed(f"{path.name} holds no records", "give the path of a transcript file")
    return records, incomplete


def verify_transcript(path: Path, expected_head: str | None = None) -> VerifyResult:
    """Check the whole chain; optionally compare the head with a written-down hash."""
    path = Path(path)
    records, incomplete = read_records(path)
    if not records:  # the start record itself was cut short: nothing to verify
        return VerifyResult(path, GENESIS, 0, False, None, incomplete_tail=True)
    head = record_hash(records[-1])
    if expected_head is not None and expected_head.lower() != head:
        raise CheckFailed(
            f"{path.name}: the head hash is {head}, not the expected {expected_head}",
            "records were added or cut off after the expected hash was written down",
        )
    return VerifyResult(
        path=path,
        head_hash=head,
        records=len(records),
        closed=records[-1]["event"] == CLOSE,
        title=records[0]["details"].get("title"),
        incomplete_tail=incomplete,
    )


def head_hash(path: Path) -> str:
    """The hash of a verified transcript's last record, as witnesses compare it."""
    return verify_transcript(path).head_hash


# ------------------------------------------------------------ the writer


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-")
    return slug or "ceremony"


def _new_path(directory: Path, title: str, now: datetime) -> Path:
    """A new file name; names sort in the order ceremonies were started."""
    stamp = f"{now.astimezone(UTC):%Y-%m-%d-%H%M%S}"
    prefix, counter = stamp, 2
    while any(directory.glob(f"{prefix}-*.jsonl")):  # another ceremony in the same second
        prefix, counter = f"{stamp}.{counter}", counter + 1
    return directory / f"{prefix}-{_slug(title)}.jsonl"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _module_details(module_path: Path | None) -> dict[str, Any]:
    """The PKCS#11 module path and its SHA-256: which code touched the keys."""
    if module_path is None:
        return {"module_path": None, "module_sha256": None}
    try:
        return {"module_path": str(module_path), "module_sha256": _file_sha256(module_path)}
    except OSError as error:
        return {
            "module_path": str(module_path),
            "module_sha256": None,
            "module_error": error.strerror or str(error),
        }


def environment_details(
    workspace: Path, module_path: Path | None, tool_version: str | None
) -> dict[str, Any]:
    """What ran the ceremony: tool, Python, OS, host, module, workspace."""
    return {
        "tool_version": tool_version or __version__,
        "python": platform.python_version(),
        "os": platform.platform(),
        "hostname": socket.gethostname(),
        **_module_details(module_path),
        "workspace": str(Path(workspace).resolve()),
    }


def _truncate_tail(path: Path, keep: int) -> None:
    """Cut a partial last line left by an interrupted write, durably."""
    with open(path, "r+b") as handle:
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the transcript, so two processes never fork the chain."""
    with open(path, "rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class Transcript:
    """An open ceremony transcript that records are appended to."""

    def __init__(self, path: Path) -> None:
        """Open an existing transcript; its chain must verify to be appended to."""
        self.path = Path(path)
        with _locked(self.path):
            repaired = self._load()
        if repaired and not self.closed:
            self.record(
                EXCEPTION,
                None,
                expected="every record written whole",
                happened="an interrupted write left a partial last line",
                decision="the partial line was removed; the chain before it verifies",
            )

    def _load(self) -> bool:
        """Read and check the chain (call with the lock held).

        A partial last line left by an interrupted write is cut off; returns
        whether that happened.
        """
        try:
            records, incomplete = read_records(self.path)
        except CheckFailed as error:
            raise CheckFailed(
                error.problem,
                "nothing more can be added to this record; keep it as evidence and "
                "begin a new one with 'ceremony audit start'",
            ) from None
        if incomplete:
            data = self.path.read_bytes()
            _truncate_tail(self.path, data.rfind(b"\n") + 1)
        self._first = records[0]
        self._last = records[-1]
        self.head_hash = record_hash(self._last)
        self._size = self.path.stat().st_size
        return incomplete

    def _refresh(self) -> None:
        """Pick up records another process (the TUI, a second command) appended."""
        if self.path.stat().st_size != self._size:
            self._load()

    @property
    def seq(self) -> int:
        """The number of the last record."""
        return int(self._last["seq"])

    @property
    def closed(self) -> bool:
        return self._last["event"] == CLOSE

    @property
    def title(self) -> str | None:
        return self._first["details"].get("title")

    @property
    def started(self) -> datetime:
        """When the start record was written (UTC)."""
        return datetime.strptime(self._first["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    @classmethod
    def start(
        cls,
        workspace: Path,
        *,
        title: str,
        operator: str | None,
        witnesses: Iterable[str] = (),
        module_path: Path | None = None,
        tool_version: str | None = None,
        implicit: bool = False,
    ) -> Transcript:
        """Begin a new ceremony: a new file whose first record describes the setup."""
        now = _utc_now()
        directory = Path(workspace) / TRANSCRIPTS_DIR
        directory.mkdir(parents=True, exist_ok=True)
        path = _new_path(directory, title, now)
        details = {
            "title": title,
            "operator": operator,
            "witnesses": list(witnesses),
            "implicit": implicit,
            **environment_details(Path(workspace), module_path, tool_version),
        }
        _check_no_secrets(details)
        first = {
            "seq": 1,
            "time": _iso(now),
            "event": START,
            "actor": operator,
            "details": _plain(details),
            "prev": GENESIS,
        }
        if path.exists():
            raise WorkspaceError(f"{path} already exists", "try again in a second")
        append_durable(path, _line(first))
        return cls(path)

    @classmethod
    def current(cls, workspace: Path) -> Transcript | None:
        """The open ceremony: the newest transcript, if it has no close record."""
        directory = Path(workspace) / TRANSCRIPTS_DIR
        files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
        # A file whose start record was cut short never began a ceremony.
        begun = [path for path in files if b"\n" in path.read_bytes()]
        if not begun:
            return None
        transcript = cls(begun[-1])
        return None if transcript.closed else transcript

    def record(self, event: str, actor: str | None = None, **details: Any) -> dict[str, Any]:
        """Append one record and fsync it; returns the record as written.

        Call it after the state the record describes is safe on disk.
        Details whose keys look like secrets (pin, so_pin, password, secret,
        passphrase, in any case) are refused with ValueError.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown transcript event {event!r}; known: {sorted(EVENTS)}")
        if event == START:
            raise ValueError("a start record is written only by Transcript.start")
        if self.closed:
            raise BadInput(
                f"the ceremony record {self.path.name} is closed",
                "start a new ceremony with 'ceremony audit start'",
            )
        _check_no_secrets(details)
        plain = _plain(details)
        with _locked(self.path):
            self._refresh()
            if self.closed:
                raise BadInput(
                    f"the ceremony record {self.path.name} was closed meanwhile",
                    "start a new ceremony with 'ceremony audit start'",
                )
            return self._append(event, actor, plain)

    def _append(self, event: str, actor: str | None, details: dict[str, Any]) -> dict[str, Any]:
        """Write the next record after the current head (call with the lock held)."""
        record = {
            "seq": self.seq + 1,
            "time": _iso(_utc_now()),
            "event": event,
            "actor": actor,
            "details": details,
            "prev": self.head_hash,
        }
        head = record_hash(record)
        line = _line(record)
        append_durable(self.path, line)
        self._last = record
        self.head_hash = head
        self._size += len(line)
        return record

    def close(self, actor: str | None = None, **details: Any) -> str:
        """Write the final record; returns the head hash for witnesses to note."""
        self.record(CLOSE, actor, records=self.seq + 1, **details)
        return self.head_hash


# ------------------------------------------------------- preflight + start


def record_preflight(
    transcript: Transcript,
    report: PreflightReport,
    *,
    allow_network: bool,
    actor: str | None = None,
) -> None:
    """Record a preflight; with the network up, record the override or refuse.

    Refusing records an error first, so the attempt itself is on the record.
    The override is recorded as data (``override: network``): what was
    expected, what was found, and that the operator allowed it.
    """
    transcript.record(PREFLIGHT, actor, **report.to_details())
    if not report.network_up:
        return
    try:
        require_airgap(report, allow_network=False)
    except NetworkUp as refusal:
        if not allow_network:
            transcript.record(ERROR, actor, problem=refusal.problem, decision="stopped")
            raise
        transcript.record(
            EXCEPTION,
            actor,
            override="network",
            expected="no network: every interface down, no default route",
            happened=refusal.problem,
            decision="went on with the network up, as the operator allowed (rehearsals only)",
        )


def override_recorded(transcript: Transcript, report: PreflightReport) -> bool:
    """Whether this ceremony already records going on with this same network:
    the exception is written once, not before every command."""
    try:
        require_airgap(report, allow_network=False)
    except NetworkUp as refusal:
        happened = refusal.problem
    else:
        return True
    records, _ = read_records(transcript.path)
    return any(
        r["event"] == EXCEPTION and r["details"].get("happened") == happened for r in records
    )


# -------------------------------------------------------------- rendering

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SETUP_ROWS = (
    ("Tool version", "tool_version"),
    ("Python", "python"),
    ("Operating system", "os"),
    ("Host name", "hostname"),
    ("Workspace", "workspace"),
    ("PKCS#11 module", "module_path"),
    ("Module SHA-256", "module_sha256"),
)
_SKIP_IN_START = frozenset({"title", "operator", "witnesses"}) | {k for _, k in _SETUP_ROWS}


@dataclass(frozen=True)
class _Loaded:
    """Records to show, and whether their chain holds."""

    path: Path
    records: list[dict[str, Any]]
    problem: str | None
    head_hash: str | None


def _load_for_display(path: Path) -> _Loaded:
    """Verify the chain, but still show what is there when it is broken."""
    path = Path(path)
    try:
        result = verify_transcript(path)
        records, _ = read_records(path)
        return _Loaded(path, records, None, result.head_hash)
    except CheckFailed as error:
        records = []
        for line in path.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(record, dict):
                records.append(record)
        return _Loaded(path, records, error.problem, None)


def _words(hex_hash: str, n: int | None = None) -> str:
    return " ".join(to_words(hex_hash, n))


def _scalar(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
    text = visible(value)
    if _HEX64.match(text):
        return f"{text} ({_words(text, 6)} …)"
    return text


def _change_lines(record: Mapping[str, Any]) -> list[str]:
    """What a staged or reviewed proposal changes, in words, as recorded."""
    changes = record.get("details", {}).get("changes")
    return [visible(line) for line in changes] if isinstance(changes, list) else []


def _detail_lines(record: Mapping[str, Any], with_changes: bool = True) -> list[str]:
    """Details as 'name: value' lines; lists of findings get one line each.

    The start record's setup and participants are shown in their own
    sections, so they are left out here.
    """
    details = record.get("details", {})
    skip = _SKIP_IN_START if record.get("event") == START else frozenset()
    lines = []
    for key, value in details.items():
        if key in skip:
            continue
        label = visible(key).replace("_", " ")
        if key == "changes" and isinstance(value, list):
            if with_changes:
                lines.append("changes:")
                lines.extend(f"  {line}" for line in _change_lines(record))
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{label}:")
            lines.extend(f"  - {_finding(v)}" for v in value)
        else:
            lines.append(f"{label}: {_scalar(value)}")
    return lines


def _finding(item: Mapping[str, Any]) -> str:
    if "status" in item and "message" in item:
        return f"[{visible(item['status'])}] {visible(item['message'])}"
    return _scalar(dict(item))


def _participants(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, name) of operator, witnesses and everyone else who acted."""
    start = records[0]["details"] if records else {}
    people: list[tuple[str, str]] = []
    if start.get("operator"):
        people.append(("Operator", visible(start["operator"])))
    people.extend(("Witness", visible(name)) for name in start.get("witnesses", []))
    known = {name for _, name in people}
    for record in records:
        for name in (record.get("actor"), record.get("details", {}).get("holder")):
            if name and visible(name) not in known:
                known.add(visible(name))
                people.append(("Key holder", visible(name)))
    return people


def _title_of(loaded: _Loaded) -> str:
    if loaded.records:
        return visible(loaded.records[0].get("details", {}).get("title") or "Ceremony")
    return "Ceremony"


def _step_heading(record: dict[str, Any]) -> str:
    title = EVENT_TITLES.get(str(record.get("event")), visible(record.get("event")))
    details = record.get("details", {})
    if record.get("event") == STEP and details.get("step"):
        item = f" for {visible(details['item'])}" if details.get("item") else ""
        title = f"{title} {visible(details['step'])}{item}, {visible(details.get('state', ''))}"
    time = visible(record.get("time", "")).replace("T", " ").replace("Z", " UTC")
    return f"{visible(record.get('seq'))}. {title} ({time})"


def _started_text(loaded: _Loaded) -> str:
    return visible(loaded.records[0].get("time")) if loaded.records else "unknown"


def _closed_text(loaded: _Loaded) -> str:
    last = loaded.records[-1] if loaded.records else {}
    if last.get("event") == CLOSE:
        return visible(last.get("time"))
    return "not closed"


def _chain_text(loaded: _Loaded) -> str:
    if loaded.problem:
        return f"BROKEN: {loaded.problem}"
    return f"verified, {len(loaded.records)} records"


def render_text(path: Path) -> str:
    """A readable transcript for the screen."""
    loaded = _load_for_display(path)
    out = [
        f"Ceremony record: {_title_of(loaded)}",
        f"File: {loaded.path.name}",
        f"Chain: {_chain_text(loaded)}",
        f"Closed: {_closed_text(loaded)}",
        "",
    ]
    start = loaded.records[0]["details"] if loaded.records else {}
    out += [f"{label}: {_scalar(start.get(key))}" for label, key in _SETUP_ROWS]
    out += ["", "Participants:"]
    out += [f"  {role}: {name}" for role, name in _participants(loaded.records)]
    out.append("")
    for record in loaded.records:
        out.append(_step_heading(record))
        if record.get("actor"):
            out.append(f"  by: {visible(record['actor'])}")
        out += [f"  {line}" for line in _detail_lines(record)]
        out.append(f"  record hash: {record_hash(record)}")
        out.append("")
    out += _head_lines(loaded)
    return "\n".join(out) + "\n"


def _head_lines(loaded: _Loaded) -> list[str]:
    if loaded.head_hash is None:
        return ["Head hash: none, the chain is broken."]
    words = _words(loaded.head_hash).split()
    rows = [" ".join(words[i : i + 8]) for i in range(0, len(words), 8)]
    return ["Head hash:", f"  {loaded.head_hash}", *(f"  {row}" for row in rows)]


def _md(text: Any) -> str:
    """Shown text (already through visible) safe inside a Markdown table cell or list item."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_header(loaded: _Loaded) -> list[str]:
    start = loaded.records[0]["details"] if loaded.records else {}
    out = [
        f"# Ceremony record: {_md(_title_of(loaded))}",
        "",
        f"- Transcript file: `{loaded.path.name}`",
        f"- Started: {_md(_started_text(loaded))}",
        f"- Closed: {_md(_closed_text(loaded))}",
        f"- Chain: **{_md(_chain_text(loaded))}**",
        "",
        "## Setup",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {label} | {_md(_scalar(start.get(key)))} |" for label, key in _SETUP_ROWS]
    return out


def _md_participants(people: list[tuple[str, str]]) -> list[str]:
    out = ["", "## Participants", "", "| Role | Name | Signature |", "|---|---|---|"]
    out += [f"| {role} | {_md(name)} | |" for role, name in people]
    return out


def _md_step(record: dict[str, Any], witnesses: list[str]) -> list[str]:
    out = ["", f"### {_md(_step_heading(record))}", ""]
    if record.get("actor"):
        out.append(f"- **By:** {_md(visible(record['actor']))}")
    for line in _detail_lines(record, with_changes=False):
        indent = "  " if line.startswith("  ") else ""
        out.append(f"{indent}- {_md(line.strip().removeprefix('- '))}")
    out.append(f"- Record hash: `{record_hash(record)}`")
    changes = _change_lines(record)
    if changes:
        # An indented block: no fence that a name from outside could close.
        out += ["", "What changes, in words:", "", *(f"    {line}" for line in changes)]
    out += ["", "| Witness | Initials | Agree / do not agree |", "|---|---|---|"]
    out += [f"| {_md(name)} | | agree / do not agree |" for name in witnesses or ["", ""]]
    return out


def _md_head(loaded: _Loaded) -> list[str]:
    out = ["", "## Head hash", ""]
    if loaded.head_hash is None:
        return [*out, "None: the chain is broken (see above)."]
    words = _words(loaded.head_hash).split()
    out += [
        "The hash of the last record. Witnesses write these words down; later,",
        "`ceremony audit verify` on any copy of this transcript must print the same.",
        "",
        f"`{loaded.head_hash}`",
        "",
    ]
    out += [f"**{' '.join(words[i : i + 8])}**  " for i in range(0, len(words), 8)]
    return out


def render_markdown(path: Path) -> str:
    """A printable ceremony record: setup, participants, each step with room
    for the witnesses' initials and their agreement, and the head hash."""
    loaded = _load_for_display(path)
    people = _participants(loaded.records)
    witnesses = [name for role, name in people if role == "Witness"]
    out = _md_header(loaded) + _md_participants(people) + ["", "## Steps"]
    for record in loaded.records:
        out += _md_step(record, witnesses)
    out += _md_head(loaded)
    return "\n".join(out).rstrip() + "\n"
