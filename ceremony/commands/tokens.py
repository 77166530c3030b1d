"""`ceremony token ...` and `ceremony key ...`: tokens and the keys on them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.commands._common import (
    add_pin_options,
    ceremony_of,
    pin_source_for,
    print_json,
    print_table,
)
from ceremony.text import visible

if TYPE_CHECKING:
    from securesystemslib.signer import Key

    from ceremony.session import KeyInfo

KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072", "rsa-4096")
DEFAULT_KEY_TYPE = "ecdsa-p256"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_token(sub, common)
    _register_key(sub, common)


def _register_token(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    token = sub.add_parser(
        "token",
        parents=[common],
        help="see and prepare hardware tokens",
        description="See which tokens (HSMs, smartcards, YubiKeys) are plugged in, "
        "and prepare a blank one.",
    )
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        parents=[common],
        help="show every slot and token with its PIN state",
        description="Show each reader slot and the token in it: label, serial, maker, "
        "model, whether a PIN is needed, how many PIN tries are left (from the token's "
        "own flags), whether the reader has a PIN pad, and which key types it can make.",
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=cmd_token_list)

    init = actions.add_parser(
        "init",
        parents=[common],
        help="initialise a blank token (SoftHSM and similar)",
        description="Give a blank token a label, a security officer (SO) PIN and a user "
        "PIN. A token that already holds keys is refused unless --erase is given; "
        "erasing destroys its keys for ever.",
    )
    init.add_argument("--label", required=True, help="the token's new label (max 32 bytes)")
    init.add_argument("--token", metavar="LABEL|SERIAL", help="re-initialise this token")
    init.add_argument("--erase", action="store_true", help="allow destroying its keys")
    init.add_argument("--so-pin-file", metavar="FILE", help="new SO PIN from FILE")
    init.add_argument("--pin-file", metavar="FILE", help="new user PIN from FILE")
    init.set_defaults(func=cmd_token_init)


def _register_key(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    key = sub.add_parser(
        "key",
        parents=[common],
        help="create, list and export keys on tokens",
        description="Create signing keys inside a token, list them with the proof that "
        "they were born there, and export their public halves as TUF keys.",
    )
    actions = key.add_subparsers(dest="action", metavar="ACTION", required=True)

    generate = actions.add_parser(
        "generate",
        parents=[common],
        help="create a key pair inside a token",
        description="Create a signing key pair inside the token. The private key is "
        "marked sensitive and never extractable: it can sign, and it can never leave "
        "the token. The token's own attributes are read back as evidence.",
    )
    _token_option(generate, required=True)
    generate.add_argument("--label", required=True, help="a name for the key on the token")
    generate.add_argument(
        "--type",
        default=DEFAULT_KEY_TYPE,
        choices=KEY_TYPES,
        help="key type (default: %(default)s, which every PIV card supports)",
    )
    generate.add_argument("--owner", help="the key holder's name, shown at every review")
    generate.add_argument("-o", "--output", metavar="FILE", help="also export the public key")
    add_pin_options(generate)
    generate.set_defaults(func=cmd_key_generate)

    listing = actions.add_parser(
        "list",
        parents=[common],
        help="list keys with owner, keyid and on-token evidence",
        description="List the key pairs on a token (or every token) with their type, TUF "
        "keyid, owner, and whether the token says the private key was generated inside "
        "it and can never leave it.",
    )
    _token_option(listing, required=False)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_pin_options(listing)
    listing.set_defaults(func=cmd_key_list)

    export = actions.add_parser(
        "export",
        parents=[common],
        help="write a key's public half as a TUF key file",
        description="Write the public key as TUF key JSON, with the holder's name and the "
        "key's pkcs11: location, to hand to the ceremony administrator.",
    )
    _token_option(export, required=True)
    export.add_argument("--label", required=True, help="the key's label on the token")
    export.add_argument("--owner", help="the key holder's name (default: as recorded)")
    export.add_argument("-o", "--output", metavar="FILE", required=True)
    export.add_argument(
        "--allow-exportable",
        action="store_true",
        help="accept a private key that may exist outside the token (not recommended)",
    )
    add_pin_options(export)
    export.set_defaults(func=cmd_key_export)


def _token_option(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--token", metavar="LABEL|SERIAL", required=required, help="the token, by label or serial"
    )


# --------------------------------------------------------------------------


def cmd_token_list(args: argparse.Namespace) -> int:
    ceremony = ceremony_of(args)
    infos = ceremony.tokens()
    capabilities = _capabilities(ceremony)
    if args.json:
        print_json(
            [dict(info.to_dict(), key_types=capabilities.get(info.slot_id, [])) for info in infos]
        )
        return 0
    print(f"PKCS#11 module: {ceremony.module_path}")
    rows = [
        [
            info.slot_id,
            info.label or "-",
            info.serial or "-",
            f"{info.manufacturer} {info.model}".strip() or "-",
            _pin_text(info),
            "yes" if info.pin_pad else "no",
            ", ".join(capabilities.get(info.slot_id, [])) or "-",
        ]
        for info in infos
    ]
    print_table(["slot", "label", "serial", "token", "PIN", "PIN pad", "key types"], rows)
    return 0


def _pin_text(info: Any) -> str:
    if not info.present:
        return "no token"
    if info.problem:
        return str(info.problem)
    return ", ".join(info.pin_state)


def _capabilities(ceremony: Any) -> dict[int, list[str]]:
    from ceremony import tokens
    from ceremony.errors import CeremonyError

    result = {}
    for token in ceremony.pool.present():
        try:
            result[token.slot.slot_id] = tokens.supported_key_types(token)
        except CeremonyError:
            continue
    return result


def cmd_token_init(args: argparse.Namespace) -> int:
    from ceremony.pins import new_pin_source

    ceremony = ceremony_of(args)
    # Checked before asking for PINs so nobody types them for nothing.
    ceremony.check_token_init(None if args.erase else args.token)
    so_pin = getattr(args, "given_so_pin", None) or new_pin_source(
        args.so_pin_file, "CEREMONY_SO_PIN", "security officer PIN"
    )
    user_pin = getattr(args, "given_pin", None) or new_pin_source(
        args.pin_file, "CEREMONY_PIN", "user PIN"
    )
    info = ceremony.init_token(
        args.label, so_pin, user_pin, selector=args.token, erase=args.erase
    )
    del so_pin, user_pin
    print(f"Token {visible(args.label)!r} initialised (serial {visible(info.serial)}).")
    return 0


def cmd_key_generate(args: argparse.Namespace) -> int:
    ceremony = ceremony_of(args)
    generated = ceremony.generate_key(
        args.token,
        args.type,
        args.label,
        args.owner,
        pin_source_for(args),
        final_try=args.final_try,
    )
    _print_key_report(generated.info, generated.key)
    if args.output:
        ceremony.write_public_key(generated.key, Path(args.output))
        print(f"Public key written to {args.output}")
    return 0


def _print_key_report(info: KeyInfo, tuf_key: Key) -> None:
    from ceremony.keys import URI_FIELD, owner_of

    print(f"Key {visible(info.label)!r} created inside the token.")
    print(f"  type:   {tuf_key.keytype} / {tuf_key.scheme}")
    print(f"  keyid:  {tuf_key.keyid}")
    print(f"  owner:  {visible(owner_of(tuf_key))}")
    print(f"  uri:    {visible(tuf_key.unrecognized_fields[URI_FIELD])}")
    print("  evidence read back from the token:")
    assert info.evidence is not None
    for name, value in info.evidence.to_dict().items():
        print(f"    {name.upper():18} {value}")
    verdict = "born on the token, cannot leave it" if info.born_on_token else "NOT PROVEN"
    print(f"  verdict: {verdict}")


def cmd_key_list(args: argparse.Namespace) -> int:
    ceremony = ceremony_of(args)
    if args.token:
        selected = [args.token]
    else:
        selected = [t.serial for t in ceremony.tokens() if t.present and t.initialized]
    entries = []
    source = pin_source_for(args)
    for selector in selected:
        for info in ceremony.token_keys(selector, source):
            entries.append(_key_entry(info))
    if args.json:
        print_json(entries)
        return 0
    rows = [
        [
            e["token"],
            e["label"],
            e["type"],
            (e["keyid"] or "-")[:16],
            e["owner"] or "-",
            "born on token" if e["born_on_token"] else "NOT PROVEN: " + e["evidence_failures"],
        ]
        for e in entries
    ]
    print_table(["token", "label", "type", "keyid", "owner", "evidence"], rows)
    return 0


def _key_entry(info: KeyInfo) -> dict[str, Any]:
    evidence = info.evidence
    return {
        "token": info.token.label,
        "serial": info.token.serial,
        "label": info.label,
        "id": info.key_id,
        "type": info.key_type,
        "keyid": info.keyid,
        "owner": info.owner,
        "evidence": evidence.to_dict() if evidence is not None else None,
        "born_on_token": bool(info.born_on_token),
        "evidence_failures": ", ".join(evidence.failures()) if evidence is not None else "",
    }


def cmd_key_export(args: argparse.Namespace) -> int:
    from ceremony.keys import owner_of

    ceremony = ceremony_of(args)
    tuf_key = ceremony.export_key(
        args.token,
        args.label,
        args.owner,
        pin_source_for(args),
        allow_exportable=args.allow_exportable,
        final_try=args.final_try,
    )
    ceremony.write_public_key(tuf_key, Path(args.output))
    print(
        f"Public key {tuf_key.keyid[:16]} ({visible(owner_of(tuf_key))}) written to {args.output}"
    )
    return 0
