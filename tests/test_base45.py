"""Base45 against the RFC 9285 examples and its rules for invalid input."""

from __future__ import annotations

import os

import pytest

from ceremony.errors import TransferError
from ceremony.transfer import base45

RFC_VECTORS = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
]


@pytest.mark.parametrize(("raw", "text"), RFC_VECTORS)
def test_rfc_vectors(raw: bytes, text: str) -> None:
    assert base45.encode(raw) == text
    assert base45.decode(text) == raw


def test_random_round_trip_and_lengths() -> None:
    for n in range(0, 70):
        data = os.urandom(n)
        text = base45.encode(data)
        assert len(text) == base45.encoded_length(n)
        assert base45.decoded_length(len(text)) == n
        assert set(text) <= set(base45.ALPHABET)
        assert base45.decode(text) == data


def test_extreme_values() -> None:
    assert base45.decode(base45.encode(b"\xff\xff")) == b"\xff\xff"
    assert base45.encode(b"\xff\xff") == "FGW"
    assert base45.encode(b"\xff") == "U5"
    assert base45.encode(b"\x00\x00") == "000"


@pytest.mark.parametrize(
    "bad",
    [
        "GGW",  # 65536, the RFC's own example of an invalid triple
        "ZZZ",  # far above 65535
        "V5",  # 256 in a final pair
        "A",  # one character cannot be a group
        "BB8A",  # length 4 leaves a lone character
        "bb8",  # lower case is outside the alphabet
        "BB#",  # outside the alphabet
        "BB\n",
    ],
)
def test_rejects_invalid(bad: str) -> None:
    with pytest.raises(TransferError):
        base45.decode(bad)
