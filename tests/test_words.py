"""The PGP word list: exact data, the documented example, and the inverse."""

from __future__ import annotations

import hashlib

import pytest

from ceremony.errors import BadInput
from ceremony.words import EVEN_WORDS, ODD_WORDS, from_words, short_words, to_words

# The example in the PGP word list documentation (Wikipedia, "PGP word list").
EXAMPLE_HEX = "E58294F2E9A227486E8B061B31CC528FD7FA3F19"
EXAMPLE_WORDS = [
    "topmost",
    "Istanbul",
    "Pluto",
    "vagabond",
    "treadmill",
    "Pacific",
    "brackish",
    "dictator",
    "goldfish",
    "Medusa",
    "afflict",
    "bravado",
    "chatter",
    "revolver",
    "Dupont",
    "midsummer",
    "stopwatch",
    "whimsical",
    "cowbell",
    "bottomless",
]


def test_lists_have_256_words_each() -> None:
    assert len(EVEN_WORDS) == 256
    assert len(ODD_WORDS) == 256


def test_words_are_unique_across_both_lists() -> None:
    lowered = [w.lower() for w in EVEN_WORDS + ODD_WORDS]
    assert len(set(lowered)) == 512


def test_list_ends_match_the_published_list() -> None:
    assert EVEN_WORDS[:3] == ("aardvark", "absurd", "accrue")
    assert ODD_WORDS[:3] == ("adroitness", "adviser", "aftermath")
    assert EVEN_WORDS[-1] == "Zulu"
    assert ODD_WORDS[-1] == "Yucatan"


def test_documented_example_from_hex_and_bytes() -> None:
    assert to_words(EXAMPLE_HEX) == EXAMPLE_WORDS
    assert to_words(bytes.fromhex(EXAMPLE_HEX)) == EXAMPLE_WORDS
    assert to_words(EXAMPLE_HEX.lower(), 4) == ["topmost", "Istanbul", "Pluto", "vagabond"]


def test_short_words_takes_the_first_n() -> None:
    assert short_words(EXAMPLE_HEX) == " ".join(EXAMPLE_WORDS[:6])
    assert short_words(EXAMPLE_HEX, 2) == "topmost Istanbul"


def test_round_trip_of_a_sha256() -> None:
    digest = hashlib.sha256(b"ceremony").digest()
    assert from_words(to_words(digest)) == digest
    assert from_words(" ".join(to_words(digest)).upper()) == digest
    assert from_words("-".join(to_words(digest))) == digest


def test_every_byte_round_trips_in_both_positions() -> None:
    data = bytes(range(256)) + bytes(range(255, -1, -1)) + b"\x00"
    assert from_words(to_words(data)) == data


def test_unknown_word_is_named() -> None:
    with pytest.raises(BadInput, match=r"word 2 \('istambul'\) is not in the PGP word list"):
        from_words("topmost istambul")


def test_word_in_wrong_position_says_a_word_was_skipped() -> None:
    # "Pluto" is an even word; as word 2 it means one word was skipped.
    with pytest.raises(BadInput, match=r"word 2 \('Pluto'\).*skipped"):
        from_words(["topmost", "Pluto"])


def test_bad_hex_is_bad_input() -> None:
    with pytest.raises(BadInput):
        to_words("not hex")
