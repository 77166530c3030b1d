"""Seed inputs for the atheris targets: one well-formed example per parser,
so coverage-guided mutation starts from documents the parser accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Role, Root, TargetFile, Targets

from ceremony.config import Config
from ceremony.keys import key_to_json
from ceremony.metafile import to_file_bytes


def seeds(parser: str) -> list[bytes]:
    key = CryptoSigner.generate_ecdsa().public_key
    if parser == "metadata":
        root = Root(expires=datetime(2030, 1, 1, tzinfo=UTC))
        root.keys[key.keyid] = key
        for role in ("root", "targets", "snapshot", "timestamp"):
            root.roles[role] = Role([key.keyid], 1)
        targets = Targets(expires=datetime(2030, 1, 1, tzinfo=UTC))
        targets.targets["a.txt"] = TargetFile(3, {"sha256": "ab" * 32}, "a.txt")
        return [to_file_bytes(Metadata(root)), json.dumps(Metadata(targets).to_dict()).encode()]
    if parser == "public key":
        pem = key.unrecognized_fields.get("x") or key.keyval["public"]
        return [key_to_json(key), pem.encode()]
    if parser == "ceremony.toml":
        config = Config(module="/usr/lib/softhsm/libsofthsm2.so", owners={"ab": "Alice"})
        return [config.to_toml().encode()]
    if parser == "PIN file":
        return [b"123456\n", b"pin\r\n"]
    raise KeyError(parser)
