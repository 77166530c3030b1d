"""ceremony.toml read strictly: unknown settings, wrong types, ranges, size."""

from __future__ import annotations

import os

import pytest

from ceremony.config import (
    CONFIG_NAME,
    DEFAULT_EXPIRY_DAYS,
    MAX_CONFIG_BYTES,
    Config,
    load_config,
)
from ceremony.errors import BadInput, WorkspaceError

GOOD = """\
[repository]
name = "example"
profile = "rstuf"

[pkcs11]
module = "/usr/lib/softhsm/libsofthsm2.so"

[expiry_days]
root = 400
"team-a" = 30

[owners]
"abc123" = "Alice"
"""


def _load(tmp_path, text: str | bytes) -> Config | None:
    data = text.encode() if isinstance(text, str) else text
    (tmp_path / CONFIG_NAME).write_bytes(data)
    return load_config(tmp_path)


def test_a_good_file(tmp_path):
    config = _load(tmp_path, GOOD)
    assert config is not None
    assert (config.repository, config.profile) == ("example", "rstuf")
    assert config.module == "/usr/lib/softhsm/libsofthsm2.so"
    assert config.expiry_days == {**DEFAULT_EXPIRY_DAYS, "root": 400, "team-a": 30}
    assert config.owners == {"abc123": "Alice"}


def test_no_file_is_no_workspace(tmp_path):
    assert load_config(tmp_path) is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[pkcs11]\nmodul = "/usr/lib/x.so"\n', "'modul' in [pkcs11]"),
        ('[repository]\nnmae = "x"\n', "'nmae' in [repository]"),
        ("[expiry]\nroot = 3\n", "unknown setting 'expiry'"),
        ('title = "x"\n', "unknown setting 'title'"),
        ('[repository.extra]\nname = "x"\n', "'extra' in [repository]"),
    ],
)
def test_unknown_settings_are_refused_by_name(tmp_path, text, named):
    with pytest.raises(WorkspaceError) as raised:
        _load(tmp_path, text)
    assert named in raised.value.problem
    assert raised.value.fix


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[pkcs11]\nmodule = 5\n", "pkcs11.module must be text"),
        ('repository = "x"\n', "repository must be a table"),
        ('[[repository]]\nname = "x"\n', "repository must be a table"),
        ("[repository]\nname = 7\n", "repository.name must be text"),
        ('[repository]\nname = ""\n', "repository.name is empty"),
        ('[repository]\nprofile = "debian"\n', "is not one of plain, rstuf, tuf-on-ci"),
        ("[expiry_days]\ntargets = true\n", "expiry_days.targets is true/false"),
        ("[expiry_days]\ntargets = 1.5\n", "expiry_days.targets is 1.5"),
        ("[expiry_days]\ntargets = inf\n", "expiry_days.targets is inf"),
        ('[expiry_days]\ntargets = "30"\n', "expiry_days.targets is text"),
        ("[expiry_days]\ntargets = 1979-05-27\n", "expiry_days.targets is"),
        ("[expiry_days]\ntargets = 0\n", "from 1 to 36500"),
        ("[expiry_days]\ntargets = -3\n", "from 1 to 36500"),
        ("[expiry_days]\nroot = 36501\n", "expiry_days.root is 36501"),
        ("[expiry_days]\nroot = 99999999999999999999\n", "from 1 to 36500"),
        ("[owners]\nabc = 1\n", "owners.abc must be text"),
        ('[pkcs11]\nmodule = "libsofthsm2.so"\n', "is not an absolute path"),
        ('[pkcs11]\nmodule = "./lib/x.so"\n', "is not an absolute path"),
        ('[pkcs11]\nmodule = ""\n', "is not an absolute path"),
    ],
)
def test_wrong_types_and_ranges_are_refused_by_name(tmp_path, text, named):
    with pytest.raises(WorkspaceError) as raised:
        _load(tmp_path, text)
    assert named in raised.value.problem, raised.value.problem


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"[repository\n", "not valid TOML"),
        (b'[owners]\n"a" = "\xff"\n', "not UTF-8"),
        (b"a = " + b"[" * 50_000 + b"]" * 50_000, "too deep"),
    ],
)
def test_broken_files(tmp_path, data, words):
    with pytest.raises(WorkspaceError, match=words):
        _load(tmp_path, data)


def test_size_is_bounded(tmp_path):
    big = GOOD + "#" * MAX_CONFIG_BYTES + "\n"
    with pytest.raises(BadInput, match=f"more than the {MAX_CONFIG_BYTES}"):
        _load(tmp_path, big)


def test_only_a_regular_file_is_read(tmp_path):
    os.mkfifo(tmp_path / CONFIG_NAME)
    with pytest.raises(BadInput, match="not a regular file"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    "config",
    [
        Config(),
        Config(
            repository='odd "name" \\ with\nnewline\ttab\x7f\x1b[31m',
            profile="tuf-on-ci",
            module="/opt/vendor/lib p11.so",
            expiry_days={**DEFAULT_EXPIRY_DAYS, "team/a b": 36500, "x": 1},
            owners={"k\n1": 'Zoë "Z" \\ Ng\r'},
        ),
    ],
    ids=["defaults", "awkward-text"],
)
def test_to_toml_loads_back_the_same(tmp_path, config):
    assert _load(tmp_path, config.to_toml()) == config
