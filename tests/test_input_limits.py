"""Limits on metadata and key JSON: depth, size, floats, encoding.

Each refusal is a BadInput naming the file and the problem; no
RecursionError, MemoryError or other exception ever escapes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from tuf.api.metadata import Metadata, Root

from ceremony.errors import BadInput
from ceremony.keys import load_key_file
from ceremony.metafile import (
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    loads_strict,
    nesting_depth_exceeds,
    parse_metadata,
    payload_bytes,
)


def _root_text() -> str:
    root = Metadata(Root(expires=datetime(2031, 1, 1, tzinfo=UTC)))
    return json.dumps(root.to_dict())


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"a":' * 100_000,
        b"[" * 100_000,
    ],
    ids=["arrays", "objects", "objects-unclosed", "arrays-unclosed"],
)
def test_deep_nesting_is_refused_without_recursion_error(data, tmp_path):
    with pytest.raises(BadInput, match="nest") as raised:
        parse_metadata(data, "deep.json")
    assert "deep.json" in raised.value.problem
    key_file = tmp_path / "deep-key.json"
    key_file.write_bytes(data)
    with pytest.raises(BadInput, match="nest"):
        load_key_file(key_file)


def test_depth_limit_is_exact():
    assert loads_strict(_nested(MAX_JSON_DEPTH), "ok.json") is not None
    assert not nesting_depth_exceeds(_nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)
    assert nesting_depth_exceeds(_nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)
    with pytest.raises(BadInput, match=f"deeper than {MAX_JSON_DEPTH}"):
        loads_strict(_nested(MAX_JSON_DEPTH + 1), "deep.json")
    # depth in objects and arrays alike, mixed
    mixed = b'{"a":[' * 33 + b"1" + b"]}" * 33
    with pytest.raises(BadInput, match="deeper"):
        loads_strict(mixed, "mixed.json")


def test_brackets_inside_strings_are_not_nesting():
    text = json.dumps({"note": "[" * 500 + "{" * 500, "escaped": '\\"[[[[' * 50})
    assert loads_strict(text.encode(), "strings.json")["note"].startswith("[[[")
    # and quotes inside strings do not hide real nesting
    hidden = b'["\\"",' * 70 + b"1" + b"]" * 70
    with pytest.raises(BadInput, match="deeper"):
        loads_strict(hidden, "hidden.json")


@pytest.mark.parametrize(
    ("replacement", "field", "shown"),
    [
        ('"version": 2.0', "signed.version", "2.0"),
        ('"version": 1e400', "signed.version", "1e400"),
        ('"version": NaN', "signed.version", "NaN"),
        ('"version": Infinity', "signed.version", "Infinity"),
        ('"version": -Infinity', "signed.version", "-Infinity"),
        ('"version": 1, "x-note": [1, 2.5]', "signed.x-note[1]", "2.5"),
    ],
)
def test_floats_anywhere_are_refused_by_name(replacement, field, shown):
    text = _root_text().replace('"version": 1', replacement, 1)
    assert replacement in text
    with pytest.raises(BadInput) as raised:
        parse_metadata(text.encode(), "1.root.json")
    problem = raised.value.problem
    assert "1.root.json" in problem and field in problem and shown in problem
    assert "whole" in problem


def test_whole_numbers_still_work():
    metadata = parse_metadata(_root_text().encode(), "1.root.json", "root")
    assert metadata.signed.version == 1
    assert payload_bytes(metadata)


def test_size_limit(tmp_path):
    with pytest.raises(BadInput, match=f"more than the {MAX_JSON_BYTES}"):
        loads_strict(b" " * (MAX_JSON_BYTES + 1), "huge.json")
    with pytest.raises(BadInput, match="more than the 10"):
        loads_strict(b"[1, 2, 3, 4, 5]", "small.json", limit=10)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"a": "\xff"}', "not UTF-8"),
        ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
        (b'\xef\xbb\xbf{"a": 1}', "BOM"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"a": ["\\udfff"]}', "surrogate"),
        (b'{"\\udc00": 1}', "surrogate"),
        (b"1" * 5000, "digits"),
    ],
)
def test_encoding_problems_are_refused(data, words):
    with pytest.raises(BadInput, match=words):
        loads_strict(data, "odd.json")


def test_surrogate_pairs_are_text():
    assert loads_strict(b'"\\ud83d\\ude00"', "emoji.json") == "\U0001f600"


def test_duplicate_keys_still_refused():
    with pytest.raises(BadInput, match="duplicate JSON key 'a'"):
        loads_strict(b'{"a": 1, "a": 2}', "dup.json")
