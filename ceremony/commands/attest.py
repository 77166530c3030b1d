"""`ceremony key attest`: check a key's attestation, on a token or in a root.

Added to the ``key`` group that ``commands/tokens.py`` registers (GROUPS
lists this module after it). No PIN; in a workspace each result is
recorded, and verified attestations are kept for the next root.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ceremony.commands._common import ceremony_of, print_json
from ceremony.errors import BadInput, CheckFailed
from ceremony.fsutil import read_bounded

METADATA_LIMIT = 16 * 1024 * 1024


def _key_actions(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    key = sub.choices["key"]
    for action in key._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise AssertionError("the key command group has no actions")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    attest = _key_actions(sub).add_parser(
        "attest",
        parents=[common],
        help="check that a key was made inside a genuine device (YubiKey PIV attestation)",
        description="Verify the attestation certificate stored with each key on a token "
        "(or with --metadata, the attestations recorded in a root's "
        "x-ceremony-attestations) up to the device maker's root CA, and check that it "
        "certifies this very key, this device's serial and firmware, and the PIN and "
        "touch policies. Exit 0 when every key checked is attested, 1 otherwise. "
        "Needs no PIN. See docs/tokens.md.",
    )
    where = attest.add_mutually_exclusive_group(required=True)
    where.add_argument("--token", metavar="LABEL|SERIAL", help="the token that holds the keys")
    where.add_argument("--metadata", metavar="FILE", help="a root.json with recorded attestations")
    attest.add_argument("--key", metavar="LABEL", help="only this key on the token")
    attest.add_argument(
        "--ca", metavar="FILE", required=True, help="the device maker's root CA (PEM)"
    )
    attest.add_argument(
        "--serial", type=int, metavar="N", help="the device serial printed on it (checked)"
    )
    attest.add_argument(
        "--require-touch", action="store_true", help="refuse a touch policy of never"
    )
    attest.add_argument("--json", action="store_true")
    attest.set_defaults(func=cmd_key_attest)


def cmd_key_attest(args: argparse.Namespace) -> int:
    from ceremony import attest, tokens

    roots = attest.load_roots(Path(args.ca))
    touch = ("always", "cached") if args.require_touch else attest.Requirements.touch_policies
    if args.metadata:
        if args.key or args.serial is not None:
            raise BadInput("--key and --serial apply to --token only", "drop them")
        data = read_bounded(Path(args.metadata), METADATA_LIMIT, "root metadata")
        try:
            signed = json.loads(data)["signed"]
        except (ValueError, KeyError, TypeError):
            raise BadInput(f"{args.metadata} is not TUF metadata", "give a root.json") from None
        checked = attest.check_root(signed, roots, attest.Requirements(touch_policies=touch))
        results = [(keyid, result) for keyid, result in checked.items()]
        if not results:
            raise CheckFailed(
                f"{args.metadata} records no attestations",
                "attest the keys on their tokens: ceremony key attest --token ...",
            )
    else:
        ceremony = ceremony_of(args)
        info = tokens.info_of(ceremony.pool.find(args.token))
        requirements = attest.Requirements(
            serial=args.serial, firmware=info.firmware or None, touch_policies=touch
        )
        results = ceremony.attest_token(args.token, roots, requirements, args.key)
        if not results:
            raise CheckFailed(
                f"token {info.label!r} holds no public keys to attest",
                "generate a key on it first: ceremony key generate",
            )
    if args.json:
        print_json([{"key": name, **attest.record(result)} for name, result in results])
    else:
        for name, result in results:
            print(f"{name}: {result.describe()}")
    return 0 if all(result.ok for _name, result in results) else 1
