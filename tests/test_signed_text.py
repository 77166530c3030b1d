"""Large roles read on their exact text: metafile.read_signed_text and its users.

status and review of a targets role of tens of megabytes read its fields
without building its target entries, and compare entries one at a time as
the JSON holds them. The reader must agree with parse_metadata on every
document it takes, hand back (None) every document it does not, and review
and status must say exactly what they said when they parsed whole.
"""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tuf.api.metadata import Metadata, Role, Root, TargetFile, Targets

from ceremony import review as review_module
from ceremony import signing
from ceremony.config import Config
from ceremony.errors import BadInput
from ceremony.metafile import (
    MAX_JSON_DEPTH,
    parse_metadata,
    payload_bytes,
    read_file_text,
    read_signed_text,
)
from ceremony.review import describe, describe_staged
from ceremony.workspace import Workspace
from fuzz import strategies as hs
from tests.test_properties import EXAMPLES
from tests.tufkit import NOW, TOP, holder

CAMPAIGN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def compact(value: Any) -> bytes:
    """JSON as this tool lays it out (sorted, no spaces), whatever the value holds."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def file_of(document: Any) -> bytes:
    """A document in the file layout of metafile.file_bytes, when it has the parts."""
    if not isinstance(document, dict):
        return compact(document)
    signatures = compact(document.get("signatures", []))
    return b'{"signatures":' + signatures + b',"signed":' + compact(document.get("signed")) + b"}\n"


def fits(path: str, entry: Any) -> bool:
    """Whether python-tuf reads a target entry."""
    try:
        TargetFile.from_dict(dict(entry), path)
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    return True


def assert_agrees(data: bytes) -> None:
    """Whatever read_file_text takes, parse_metadata takes, with the same fields,
    unless a target entry is one python-tuf refuses (checked by its readers)."""
    for kind in ("root", "targets"):
        fast = read_file_text(data, "f.json", kind)
        if fast is None:
            continue
        try:
            parsed = parse_metadata(data, "f.json", kind)
        except BadInput:
            assert not all(fits(path, entry) for path, entry in fast.entries()), data
            continue
        expected = parsed.signed.to_dict()
        entries = expected.pop("targets", {})
        got = fast.signed.to_dict()
        assert got.pop("targets", {}) == {}
        assert got == expected
        assert list(fast.entries()) == sorted(entries.items())


@st.composite
def laid_out_files(draw: st.DrawFn) -> bytes:
    document = draw(hs.GOOD_METADATA)
    kind = draw(st.sampled_from(["good", "mutated", "damaged"]))
    if kind == "mutated":
        return file_of(draw(hs.mutated(document)))
    data = file_of(document)
    return draw(hs.damaged(data)) if kind == "damaged" else data


@CAMPAIGN
@given(laid_out_files())
def test_reader_agrees_with_parse_metadata(data):
    assert_agrees(data)


@CAMPAIGN
@given(hs.GOOD_METADATA)
def test_reader_takes_what_this_tool_writes(document):
    kind = document["signed"]["_type"]
    taken = read_file_text(file_of(document), "f.json", kind)
    assert (taken is not None) == (kind in ("root", "targets"))


def targets_text(entries: str) -> bytes:
    return (
        b'{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31",'
        b'"targets":' + entries.encode() + b',"version":1}'
    )


GOOD_ENTRY = '{"hashes":{"sha256":"ab"},"length":1}'


@pytest.mark.parametrize(
    "text",
    [
        targets_text('{"b":' + GOOD_ENTRY + ',"a":' + GOOD_ENTRY + "}"),  # out of order
        targets_text('{"a":' + GOOD_ENTRY + ',"a":' + GOOD_ENTRY + "}"),  # twice
        targets_text('{"a":{"hashes":{"sha256":"ab"},"length":1,"length":2}}'),
        targets_text('{"a":{"hashes":{"sha256":"ab"},"length":1.0}}'),
        targets_text('{"a":{"hashes":{"sha256":"ab"},"length":NaN}}'),
        targets_text('{"a":{"hashes":{"sha256":"\\ud800"},"length":1}}'),
        targets_text('{"a": ' + GOOD_ENTRY + "}"),  # a space
        targets_text('{"a":{"custom":' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}}"),
        targets_text("{}") + b" ",
        targets_text("[]"),
        targets_text("{}").replace(b'"targets"', b'"root"', 1),
        targets_text("{}").replace(b"1.0.31", b"2.0.0"),
        b'{"_type":"targets","version":1}',
        b"\xff",
    ],
)
def test_reader_hands_back_what_it_does_not_take(text):
    assert read_signed_text(text, "f.json", "targets") is None


def test_reader_reads_entries_one_by_one_in_order():
    text = targets_text('{"a":' + GOOD_ENTRY + ',"b":{"custom":{"x":[1]},"hashes":{},"length":0}}')
    read = read_signed_text(text, "f.json", "targets")
    assert read is not None
    assert isinstance(read.signed, Targets) and read.signed.targets == {}
    assert read.signed.version == 1
    assert list(read.entries()) == [
        ("a", {"hashes": {"sha256": "ab"}, "length": 1}),
        ("b", {"custom": {"x": [1]}, "hashes": {}, "length": 0}),
    ]


# ------------------------------------------------------------------ review


PATHS = st.lists(hs.NAMES, max_size=10, unique=True)


@st.composite
def targets_versions(draw: st.DrawFn, paths: list[str], version: int) -> Metadata[Targets]:
    targets = Targets(version=version, expires=draw(hs.EXPIRES))
    chosen = draw(st.lists(st.sampled_from(paths), unique=True)) if paths else []
    for path in chosen:
        custom = draw(st.none() | st.dictionaries(st.text(max_size=3), st.integers(0, 2)))
        hashes = {"sha256": draw(st.sampled_from(["aa" * 32, "bb" * 32]))}
        extra = {"custom": custom} if custom is not None else None
        targets.targets[path] = TargetFile(draw(st.integers(0, 2)), hashes, path, extra)
    if draw(st.booleans()):
        targets.unrecognized_fields["x-note"] = draw(st.text(max_size=4))
    return Metadata(targets)


@st.composite
def proposals(draw: st.DrawFn) -> tuple[Metadata[Targets], Metadata[Targets] | None]:
    paths = draw(PATHS)
    new = draw(targets_versions(paths, 2))
    old = draw(st.none() | targets_versions(paths, 1))
    return new, old


@CAMPAIGN
@given(proposals())
def test_review_on_text_says_what_review_of_objects_says(pair):
    new, old = pair
    with tempfile.TemporaryDirectory() as where:
        ws = Workspace.create(Path(where) / "ws", Config(repository="ws"), lambda *a, **k: None)
        if old is not None:
            ws.write_published("targets", old)
        ws.stage("targets", new, 1 if old else None)
        on_text = review_module._describe_texts(ws, "targets", ws.staged_payload("targets"))
        assert on_text is not None, "the review was not read on the text"
        assert on_text[2] == describe(new, old)
        shown = describe_staged(ws, "targets")
    assert shown.changes == describe(new, old)
    assert shown.raw == payload_bytes(new).decode()


def _workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.create(tmp_path / "ws", Config(repository="ws"), lambda *a, **k: None)
    root = Root(version=1, expires=NOW + timedelta(days=365))
    root.roles = {name: Role([], 1) for name in TOP}
    key = holder("targets-key")
    root.add_key(key.public_key, "targets")
    for name in ("root", "snapshot", "timestamp"):
        root.add_key(holder(name).public_key, name)
    ws.write_published("root", Metadata(root))
    return ws


def _many(count: int, version: int) -> Metadata[Targets]:
    targets = Targets(version=version, expires=NOW + timedelta(days=30))
    for index in range(count):
        path = f"pkg/{index:05d}.tar.gz"
        targets.targets[path] = TargetFile(index, {"sha256": f"{index:064x}"}, path)
    return Metadata(targets)


@pytest.fixture
def built(monkeypatch) -> list[str]:
    """Paths of every TargetFile python-tuf builds from a dict from now on."""
    paths: list[str] = []
    original = TargetFile.from_dict.__func__  # type: ignore[attr-defined]

    def counting(cls, target_dict, path):
        paths.append(path)
        return original(cls, target_dict, path)

    monkeypatch.setattr(TargetFile, "from_dict", classmethod(counting))
    return paths


def test_status_builds_no_target_entry(tmp_path, built):
    ws = _workspace(tmp_path)
    ws.stage("targets", _many(500, 1), None)
    [state] = signing.status(ws)
    assert (state.version, state.signatures, state.complete) == (1, 0, False)
    assert state.expires == NOW + timedelta(days=30)
    assert built == []


def test_review_builds_only_the_entries_that_change(tmp_path, built):
    ws = _workspace(tmp_path)
    old = _many(500, 1)
    ws.write_published("targets", old)
    new = _many(500, 2)
    del new.signed.targets["pkg/00007.tar.gz"]
    new.signed.targets["pkg/00009.tar.gz"].length += 1
    new.signed.targets["pkg/new.tar.gz"] = TargetFile(1, {"sha256": "cd" * 32}, "pkg/new.tar.gz")
    ws.stage("targets", new, 1)
    built.clear()
    shown = describe_staged(ws, "targets")
    assert sorted(set(built)) == ["pkg/00007.tar.gz", "pkg/00009.tar.gz", "pkg/new.tar.gz"]
    assert shown.changes == describe(new, old)
    assert "Target files: 500 -> 500" in shown.change_lines()


def test_review_of_an_entry_python_tuf_refuses_is_refused_as_before(tmp_path):
    ws = _workspace(tmp_path)
    old = _many(3, 1)
    ws.write_published("targets", old)
    ws.stage("targets", _many(2, 2), 1)
    path = ws.published_path("targets")
    bad = path.read_bytes().replace(b'"length":2}', b'"length":-2}')
    assert bad != path.read_bytes()
    path.write_bytes(bad)
    with pytest.raises(BadInput) as whole:
        parse_metadata(bad, str(path), "targets")
    with pytest.raises(BadInput) as shown:
        describe_staged(ws, "targets")
    assert shown.value.problem == whole.value.problem
