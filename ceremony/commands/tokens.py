"""`ceremony token ...` and `ceremony key ...`: tokens and the keys on them."""

from __future__ import annotations

import argparse
from pathlib import Path

from ceremony import audit, tokens
from ceremony.commands._common import (
    add_pin_options,
    begin,
    load_lib,
    module_path,
    print_json,
    print_table,
    record,
    token_seen,
)
from ceremony.errors import KeyError_
from ceremony.fsutil import write_atomic
from ceremony.keys import key_to_json, owner_of, tuf_key_from_token
from ceremony.pins import new_pin_source, pin_source


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
        default=tokens.DEFAULT_KEY_TYPE,
        choices=list(tokens.KEY_SPECS),
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
    lib = load_lib(args)
    infos = tokens.list_tokens(lib)
    capabilities = _capabilities(lib)
    if args.json:
        print_json(
            [dict(info.to_dict(), key_types=capabilities.get(info.slot_id, [])) for info in infos]
        )
        return 0
    print(f"PKCS#11 module: {module_path(args)}")
    rows = [
        [
            info.slot_id,
            info.label or "-",
            info.serial or "-",
            f"{info.manufacturer} {info.model}".strip() or "-",
            ", ".join(info.pin_state) if info.present else "no token",
            "yes" if info.pin_pad else "no",
            ", ".join(capabilities.get(info.slot_id, [])) or "-",
        ]
        for info in infos
    ]
    print_table(["slot", "label", "serial", "token", "PIN", "PIN pad", "key types"], rows)
    return 0


def _capabilities(lib) -> dict[int, list[str]]:
    result = {}
    for slot in lib.get_slots(token_present=True):
        result[slot.slot_id] = tokens.supported_key_types(slot.get_token())
    return result


def cmd_token_init(args: argparse.Namespace) -> int:
    lib = load_lib(args)
    if args.token and not args.erase:
        # Checked before asking for PINs so nobody types them for nothing.
        tokens.init_token_preflight(lib, args.token)
    begin(args)
    if args.erase:
        record(
            audit.CONFIRMATION, args.operator, action="erase and initialise token", token=args.token
        )
    so_pin = new_pin_source(args.so_pin_file, "CEREMONY_SO_PIN", "security officer PIN")
    user_pin = new_pin_source(args.pin_file, "CEREMONY_PIN", "user PIN")
    serial = tokens.init_token(
        lib,
        module_path(args),
        label=args.label,
        so_pin=so_pin,
        user_pin=user_pin,
        selector=args.token,
        erase=args.erase,
    )
    del so_pin, user_pin
    token_seen(tokens.find_token(lib, serial))
    print(f"Token {args.label!r} initialised (serial {serial}).")
    return 0


def cmd_key_generate(args: argparse.Namespace) -> int:
    lib = load_lib(args)
    token = tokens.find_token(lib, args.token)
    begin(args)
    token_seen(token)
    with tokens.logged_in(
        token, pin_source(args.pin_file), rw=True, final_try=args.final_try
    ) as session:
        key = tokens.generate_key(session, args.type, args.label, args.owner)
        tuf_key = tuf_key_from_token(token, key, args.owner)
    record(
        audit.KEY_GENERATED,
        args.owner,
        keyid=tuf_key.keyid,
        type=args.type,
        label=key.label,
        token=token.label.strip(),
        serial=tokens.serial_of(token),
        uri=tuf_key.unrecognized_fields["x-ceremony-uri"],
        evidence=key.evidence.to_dict(),
        born_on_token=key.evidence.born_on_token,
    )
    _print_key_report(key, tuf_key)
    if args.output:
        write_atomic(Path(args.output), key_to_json(tuf_key))
        print(f"Public key written to {args.output}")
    return 0


def _print_key_report(key: tokens.TokenKey, tuf_key) -> None:
    evidence = key.evidence
    print(f"Key {key.label!r} created inside the token.")
    print(f"  type:   {tuf_key.keytype} / {tuf_key.scheme}")
    print(f"  keyid:  {tuf_key.keyid}")
    print(f"  owner:  {owner_of(tuf_key)}")
    print(f"  uri:    {tuf_key.unrecognized_fields['x-ceremony-uri']}")
    print("  evidence read back from the token:")
    for name, value in evidence.to_dict().items():
        print(f"    {name.upper():18} {value}")
    verdict = "born on the token, cannot leave it" if evidence.born_on_token else "NOT PROVEN"
    print(f"  verdict: {verdict}")


def cmd_key_list(args: argparse.Namespace) -> int:
    lib = load_lib(args)
    if args.token:
        selected = [tokens.find_token(lib, args.token)]
    else:
        selected = [
            slot.get_token()
            for slot in lib.get_slots(token_present=True)
            if slot.get_token().flags & tokens.TokenFlag.TOKEN_INITIALIZED
        ]
    entries = []
    source = pin_source(args.pin_file)
    for token in selected:
        with tokens.logged_in(token, source, final_try=args.final_try) as session:
            for key in tokens.list_keys(session):
                entries.append(_key_entry(token, key))
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


def _key_entry(token, key: tokens.TokenKey) -> dict:
    try:
        tuf_key = tuf_key_from_token(token, key)
        keyid, key_type = tuf_key.keyid, tokens.spec_for_key(key.public, key.key_type).name
    except KeyError_ as error:
        keyid, key_type = None, f"unsupported ({error.problem})"
    return {
        "token": token.label.strip(),
        "serial": tokens.serial_of(token),
        "label": key.label,
        "id": key.key_id.hex(),
        "type": key_type,
        "keyid": keyid,
        "owner": key.owner,
        "evidence": key.evidence.to_dict(),
        "born_on_token": key.evidence.born_on_token,
        "evidence_failures": ", ".join(key.evidence.failures()),
    }


def cmd_key_export(args: argparse.Namespace) -> int:
    lib = load_lib(args)
    token = tokens.find_token(lib, args.token)
    with tokens.logged_in(token, pin_source(args.pin_file), final_try=args.final_try) as session:
        key = tokens.find_key(session, label=args.label)
        tokens.require_born_on_token(key, args.allow_exportable)
        tuf_key = tuf_key_from_token(token, key, args.owner)
    write_atomic(Path(args.output), key_to_json(tuf_key))
    print(f"Public key {tuf_key.keyid[:16]} ({owner_of(tuf_key)}) written to {args.output}")
    return 0
