"""Property-based campaigns over every parser of outside data we own.

Each input ends accepted (and survives being written back) or refused with
one of our own errors in words; never another exception. The number of
examples per property is CEREMONY_PROPERTY_EXAMPLES (a short campaign by
default; scripts/reliability.py runs long ones and reports the counts).
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceremony.errors import BadInput
from ceremony.metafile import MAX_JSON_DEPTH, loads_strict
from fuzz import harness
from fuzz import strategies as hs

EXAMPLES = int(os.environ.get("CEREMONY_PROPERTY_EXAMPLES", "60"))
CAMPAIGN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@CAMPAIGN
@given(hs.metadata_files())
def test_metadata_never_crashes(data):
    harness.run("metadata", data)


@CAMPAIGN
@given(hs.GOOD_METADATA)
def test_metadata_as_written_is_accepted(document):
    assert harness.run("metadata", hs.as_json(document)) == harness.ACCEPTED


@CAMPAIGN
@given(hs.GOOD_METADATA, st.data())
def test_a_float_anywhere_is_refused_by_name(document, data):
    path = data.draw(st.sampled_from(hs._paths(document)[1:]))
    number = data.draw(st.sampled_from([2.0, 1e400, float("nan"), float("-inf"), 0.5]))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = number
    try:
        loads_strict(hs.as_json(document), "f.json")
    except BadInput as error:
        assert "must be whole" in error.problem
        assert str(path[-1]) in error.problem
    else:
        raise AssertionError(f"a float at {path} was accepted")


@CAMPAIGN
@given(st.integers(MAX_JSON_DEPTH + 1, 200_000), st.sampled_from([b"[", b'{"a":']))
def test_any_depth_beyond_the_limit_is_refused(depth, opener):
    closer = b"]" if opener == b"[" else b"}"
    data = opener * depth + b"1" + closer * depth
    assert harness.run("metadata", data) == harness.REFUSED


@CAMPAIGN
@given(hs.key_files())
def test_public_keys_never_crash(data):
    harness.run("public key", data)


@CAMPAIGN
@given(st.sampled_from(hs.USABLE), st.booleans())
def test_usable_keys_are_accepted(name, as_pem):
    data = hs.public_pem(name) if as_pem else json.dumps(hs.key_json(_key(name))).encode()
    assert harness.run("public key", data) == harness.ACCEPTED


def _key(name: str):
    return hs.tuf_keys()[hs.USABLE.index(name)]


@CAMPAIGN
@given(hs.config_files())
def test_ceremony_toml_never_crashes(data):
    harness.run("ceremony.toml", data)


@CAMPAIGN
@given(hs.good_configs())
def test_ceremony_toml_as_written_is_accepted(config):
    assert harness.run("ceremony.toml", config.to_toml().encode()) == harness.ACCEPTED


@CAMPAIGN
@given(hs.good_configs(), st.sampled_from(hs.SECTIONS), st.text(min_size=1, max_size=8))
def test_an_unknown_setting_is_refused(config, section, name):
    if section in ("expiry_days", "owners") or name in ("name", "profile", "module"):
        return  # any role or key name is a setting there
    text = config.to_toml().replace(f"[{section}]", f"[{section}]\n{json.dumps(name)} = 1", 1)
    assert harness.run("ceremony.toml", text.encode()) == harness.REFUSED


@CAMPAIGN
@given(hs.PIN_FILES)
def test_pin_files_never_crash(data):
    harness.run("PIN file", data)
