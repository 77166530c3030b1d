"""The guided signing round: a state machine that front ends answer.

A key holder's part of a ceremony is three actions: insert the token,
confirm, type the PIN. The round decides everything else, the same way
for the command line and the app: whose token is needed next (every old
and new root threshold, in order), whether the token in the reader is the
right one (its public keys are compared with the holder's key *before*
any PIN is asked for), what the token says about its PIN (tries low,
final try, locked), what to do when a token is pulled out or a PIN is
wrong, and when the thresholds are met.

Each call returns a :class:`Step` value saying what is happening now;
front ends only show it and answer with :meth:`SigningRound.poll` (look
at the tokens again), :meth:`SigningRound.skip`, or
:meth:`SigningRound.sign` (with a PIN source, possibly from a worker
thread). Every signature is verified by the signer, then added to the
staged file on disk (under the workspace lock, to whatever other
signatures are there by then) and recorded, before the round goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pkcs11
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from securesystemslib.signer import Key, Signature
from tuf.api.metadata import Root

from ceremony import audit, tokens
from ceremony.errors import (
    CeremonyError,
    DeviceError,
    FinalPinTry,
    KeyError_,
    PinLocked,
    SessionLost,
    TokenMissing,
    TokenRemoved,
    WrongPin,
)
from ceremony.keys import identity, uri_for
from ceremony.signer import Pkcs11Signer
from ceremony.signing import (
    Holder,
    Requirement,
    authorised_keys,
    needed_keys,
    require_reviewed,
    requirements_for,
)
from ceremony.text import visible
from ceremony.tokens import TokenInfo, TokenPool
from ceremony.workspace import StagedPayload, Workspace

_LOST = (TokenRemoved, SessionLost, DeviceError)


# --------------------------------------------------------------------------
# Steps


@dataclass(frozen=True)
class Step:
    """What the round is doing now; ``holder`` is whose turn it is, if anyone's."""

    holder: Holder | None


@dataclass(frozen=True)
class WaitForToken(Step):
    """No token in the readers holds the key of the holder whose turn it is."""

    present: tuple[TokenInfo, ...] = ()


@dataclass(frozen=True)
class WrongToken(Step):
    """A token is present, but it does not hold the key asked for.

    ``holds`` names whose keys (for this role) it holds, if any: "this is
    Bob's token" is more use to a nervous holder than "wrong token".
    """

    token: TokenInfo | None = None
    holds: tuple[str, ...] = ()


@dataclass(frozen=True)
class PinNeeded(Step):
    """The right token is present; its holder types the PIN to sign ``keys``."""

    token: TokenInfo | None = None
    keys: tuple[Holder, ...] = ()

    @property
    def final_try(self) -> bool:
        return self.token is not None and self.token.final_try

    @property
    def pin_pad(self) -> bool:
        return self.token is not None and self.token.pin_pad


@dataclass(frozen=True)
class PinRefused(PinNeeded):
    """The token refused the PIN; ``error`` says what it reports now."""

    error: CeremonyError | None = None


@dataclass(frozen=True)
class TokenLocked(Step):
    """The token's PIN is locked; this holder cannot sign until it is unblocked."""

    token: TokenInfo | None = None


@dataclass(frozen=True)
class TokenLost(Step):
    """The token was pulled out or failed mid-operation; nothing was signed."""

    error: CeremonyError | None = None


@dataclass(frozen=True)
class Signed(Step):
    """Signatures made, verified and saved; the holder removes the token."""

    token: TokenInfo | None = None
    keys: tuple[Holder, ...] = ()
    complete: bool = False
    """Every threshold is met now: the holder is told to publish, not to wait."""


@dataclass(frozen=True)
class Done(Step):
    """Nothing more to ask: thresholds met, or nobody left who could sign."""

    complete: bool = False
    requirements: tuple[Requirement, ...] = ()


@dataclass
class RoundOutcome:
    """Everything the round did, for the summary at its end."""

    role: str
    payload_sha256: str
    signed: list[Holder] = field(default_factory=list)
    already: list[Holder] = field(default_factory=list)
    not_needed: list[Holder] = field(default_factory=list)
    not_authorised: list[str] = field(default_factory=list)
    skipped: list[Holder] = field(default_factory=list)
    complete: bool = False


# --------------------------------------------------------------------------
# Keys on tokens


@dataclass(frozen=True)
class _OnToken:
    """A public key found on a token, matched to this role's keys."""

    label: str
    key_id: bytes
    identity: bytes | None


def _token_keys(token: pkcs11.Token) -> list[_OnToken]:
    found = []
    for public in tokens.public_keys(token):
        ident = None
        if public.crypto is not None:
            ident = public.crypto.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        found.append(_OnToken(public.label, public.key_id, ident))
    return found


# --------------------------------------------------------------------------
# The round


class SigningRound:
    """Collect the signatures a staged role still needs, holder by holder.

    With ``token`` the round uses that token only (``ceremony sign ROLE
    --token X``): it signs with every needed key on it. Without, it asks
    for each needed holder's token in turn.
    """

    def __init__(
        self,
        ws: Workspace,
        pool: TokenPool,
        role: str,
        *,
        token: str | None = None,
        key_label: str | None = None,
        allow_exportable: bool = False,
    ) -> None:
        self.ws = ws
        self.pool = pool
        self.role = role
        self.only_token = token
        self.key_label = key_label
        self.allow_exportable = allow_exportable
        self._staged = ws.staged_payload(role)
        self.digest = require_reviewed(ws, role, self._staged.digest)
        self.version = self._staged.version()
        self._root = self._parse_root(self._staged)
        self.outcome = RoundOutcome(role, self.digest)
        self._skipped: set[str] = set()
        self._matched: pkcs11.Token | None = None
        self._step: Step = Step(None)
        if token is not None:
            self.pool.find(token)  # a missing token is refused before anything is asked

    @staticmethod
    def _parse_root(staged: StagedPayload) -> Root | None:
        if staged.role != "root":
            return None
        import json

        return Root.from_dict(json.loads(staged.signed_text))

    # ------------------------------------------------------------ state

    def requirements(self) -> list[Requirement]:
        self._staged = self.ws.staged_payload(self.role)
        if self._staged.digest != self.digest:
            raise KeyError_(
                f"staged {visible(self.role)} changed during the signing round",
                f"review it again (ceremony review {visible(self.role)}), then sign",
            )
        return requirements_for(
            self.ws, self.role, self._staged.payload, self._staged.signatures, self._root
        )

    @property
    def step(self) -> Step:
        return self._step

    def holders(self) -> list[Holder]:
        """Holders still needed, one per token, old root threshold first."""
        seen: set[str] = set()
        result = []
        for req in self.requirements():
            for holder in req.still_needed():
                if holder.keyid not in seen:
                    seen.add(holder.keyid)
                    result.append(holder)
        return result

    def _next_holder(self) -> Holder | None:
        for holder in self.holders():
            if holder.keyid not in self._skipped:
                return holder
        return None

    def _done(self) -> Done:
        reqs = self.requirements()
        complete = all(r.met for r in reqs)
        self.outcome.complete = complete
        self._step = Done(None, complete=complete, requirements=tuple(reqs))
        return self._step

    # ------------------------------------------------------------ moves

    def poll(self) -> Step:
        """Look at the tokens again and say what happens now."""
        with self.pool.exclusive():
            if self.only_token is not None:
                return self._poll_one_token()
            holder = self._next_holder()
            if holder is None:
                return self._done()
            self._step = self._look_for(holder)
            return self._step

    def skip(self) -> Step:
        """Go on without the holder whose turn it is."""
        holder = self._step.holder
        if holder is not None:
            self._skipped.add(holder.keyid)
            self.outcome.skipped.append(holder)
        if self.only_token is not None:
            return self._done()
        return self.poll()

    def sign(self, pin_source: tokens.PinSource | None, *, final_try: bool = False) -> Step:
        """Log in (asking ``pin_source``) and sign with every needed key on the token."""
        step = self._step
        if not isinstance(step, PinNeeded) or self._matched is None or step.token is None:
            raise KeyError_(
                "there is no token ready to sign with",
                "insert the holder's token and wait until the PIN is asked for",
            )
        if step.final_try and not final_try:
            raise FinalPinTry(
                f"token {visible(step.token.label)!r} has one PIN try left; a wrong PIN "
                "now locks it",
                "make sure of the PIN, then confirm the final try",
            )
        token = self._matched
        with self.pool.exclusive():
            try:
                self.pool.session(token, pin_source, final_try=final_try)
            except WrongPin as error:
                self._step = PinRefused(step.holder, self._info(token), step.keys, error)
                return self._step
            except PinLocked:
                self._step = TokenLocked(step.holder, self._info(token))
                return self._step
            except _LOST as error:
                return self._lost(step.holder, token, error)
            return self._sign_keys(step, token)

    # ------------------------------------------------------- internals

    def _info(self, token: pkcs11.Token) -> TokenInfo:
        try:
            return tokens.info_of(token)
        except CeremonyError:
            return TokenInfo(slot_id=-1, slot_description="", present=False)

    def _lost(self, holder: Holder | None, token: pkcs11.Token, error: CeremonyError) -> Step:
        self.pool.logout(tokens.serial_of(token))
        self._matched = None
        self._step = TokenLost(holder, error)
        return self._step

    def _classify(self, token: pkcs11.Token) -> tuple[list[Holder], list[str]]:
        """The needed holders whose keys are on ``token``; labels of keys it cannot use."""
        reqs = self.requirements()
        authorised = authorised_keys(reqs)
        needed = needed_keys(reqs)
        by_identity = {identity(k): k for k in authorised.values()}
        found: list[Holder] = []
        foreign: list[str] = []
        for on_token in _token_keys(token):
            if self.key_label and on_token.label != self.key_label:
                continue
            key = by_identity.get(on_token.identity) if on_token.identity else None
            if key is None:
                foreign.append(on_token.label)
                continue
            holder = Holder.of(key)
            if any(key.keyid in r.signed for r in reqs):
                _note(self.outcome.already, holder)
            elif key.keyid not in needed:
                _note(self.outcome.not_needed, holder)
            else:
                found.append(holder)
        return found, foreign

    def _look_for(self, holder: Holder) -> Step:
        """Find a present token holding ``holder``'s key, by public key."""
        self._matched = None
        present: list[pkcs11.Token] = []
        try:
            present = self.pool.present()
        except _LOST:
            present = []
        wanted = identity(holder.key)
        wrong: list[tuple[pkcs11.Token, tuple[str, ...]]] = []
        for token in present:
            try:
                keys = _token_keys(token)
            except _LOST:
                continue
            if any(k.identity == wanted for k in keys):
                return self._ready(holder, token)
            wrong.append((token, self._owners_on(keys)))
        if not wrong:
            return WaitForToken(holder, ())
        token, holds = wrong[0]
        return WrongToken(holder, self._info(token), holds)

    def _owners_on(self, keys: list[_OnToken]) -> tuple[str, ...]:
        authorised = authorised_keys(self.requirements())
        by_identity = {identity(k): k for k in authorised.values()}
        return tuple(
            Holder.of(by_identity[k.identity]).owner
            for k in keys
            if k.identity is not None and k.identity in by_identity
        )

    def _ready(self, holder: Holder, token: pkcs11.Token) -> Step:
        info = self._info(token)
        if info.locked:
            return TokenLocked(holder, info)
        found, _ = self._classify(token)
        if not found:
            return WrongToken(holder, info, ())
        self._matched = token
        return PinNeeded(holder, info, tuple(found))

    def _poll_one_token(self) -> Step:
        assert self.only_token is not None
        if isinstance(self._step, Signed | Done):
            return self._done()
        try:
            token = self.pool.find(self.only_token)
        except TokenMissing:
            self._step = WaitForToken(None, ())
            return self._step
        found, foreign = self._classify(token)
        for label in foreign:
            if label not in self.outcome.not_authorised:
                self.outcome.not_authorised.append(label)
        touched = found or self.outcome.already or self.outcome.not_needed
        if self.key_label and not touched and self.key_label not in foreign:
            raise KeyError_(
                f"no key labelled {visible(self.key_label)!r} on token "
                f"{visible(self.only_token)!r}",
                "check the label with: ceremony key list",
            )
        if not found:
            return self._done()
        info = self._info(token)
        if info.locked:
            self._step = TokenLocked(found[0], info)
            return self._step
        self._matched = token
        self._step = PinNeeded(found[0], info, tuple(found))
        return self._step

    def _sign_keys(self, step: PinNeeded, token: pkcs11.Token) -> Step:
        info = self._info(token)
        record_token(self.ws, info)
        signed: list[Holder] = []
        for holder in step.keys:
            try:
                self._sign_one(token, holder)
            except _LOST as error:
                return self._lost(step.holder, token, error)
            signed.append(holder)
            self.outcome.signed.append(holder)
        self.pool.logout(tokens.serial_of(token))
        self._matched = None
        complete = all(r.met for r in self.requirements())
        self._step = Signed(step.holder, info, tuple(signed), complete=complete)
        if self.only_token is None:
            self.outcome.complete = complete
        return self._step

    def _sign_one(self, token: pkcs11.Token, holder: Holder) -> None:
        on_token = _find_on_token(token, holder.key)
        session = self.pool.session(token, None)
        with tokens.guarded(token.label.strip(), "finding the key"):
            if on_token.key_id:
                token_key = tokens.find_key(session, key_id=on_token.key_id)
            else:
                token_key = tokens.find_key(session, label=on_token.label)
        signer = Pkcs11Signer(
            uri_for(token, token_key),
            holder.key,
            None,
            pool=self.pool,
            allow_exportable=self.allow_exportable,
        )
        signature: Signature = signer.sign(self._staged.payload)  # verified by the signer
        self._staged = self.ws.add_signatures(self.role, self.digest, {holder.keyid: signature})
        if not token_key.evidence.born_on_token:
            self.ws.record(
                audit.EXCEPTION,
                holder.owner,
                expected="a key generated on the token that can never leave it",
                happened=f"key {token_key.label} fails: "
                f"{', '.join(token_key.evidence.failures())}",
                decision="signed anyway because --allow-exportable was given",
            )
        self.ws.record(
            audit.SIGNATURE_MADE,
            holder.owner,
            role=self.role,
            keyid=holder.keyid,
            token=token.label.strip(),
            serial=tokens.serial_of(token),
            payload_sha256=self.digest,
        )


def _find_on_token(token: pkcs11.Token, key: Key) -> _OnToken:
    """The key pair on ``token`` whose public key is ``key``."""
    wanted = identity(key)
    for on_token in _token_keys(token):
        if on_token.identity == wanted:
            return on_token
    raise KeyError_(
        f"token {visible(token.label.strip())!r} no longer holds key {key.keyid[:8]}",
        "insert the token that holds this key",
    )


def _note(items: list[Holder], holder: Holder) -> None:
    if all(h.keyid != holder.keyid for h in items):
        items.append(holder)


def record_token(ws: Workspace, info: TokenInfo) -> None:
    """Record which token was used: label, serial, model, PIN state."""
    ws.record(audit.TOKEN_SEEN, **info.to_dict())
