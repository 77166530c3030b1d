"""The ceremony: one object that owns a workspace's record, tokens and changes.

Both front ends (the command line and the app) and the runbooks drive a
:class:`Ceremony` and nothing else, so every safeguard is theirs for free:
the record is opened only through the air-gap preflight and the network
policy; a write with no open record is refused; every state change (a key
generated, a token initialised, a proposal staged, a review confirmed, a
signature made, a publish, an import or export, an error, an override) is
recorded here, by the core, with overrides as data; the PKCS#11 module is
the one the operator chose, recorded with its SHA-256 before use; the token
pool belongs to this ceremony and logs out when it closes.

A Ceremony never prompts, prints or exits: questions to people are the
front end's (PIN sources, the signing round's steps), and every refusal is
one of our own errors with the fix in words.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony import airgap, audit, modules
from ceremony.airgap import PreflightReport
from ceremony.config import load_config
from ceremony.errors import (
    BadInput,
    CeremonyError,
    KeyError_,
    KeyNotAllowed,
    NoRecord,
    NotAWorkspace,
    PinError,
    WorkspaceError,
)
from ceremony.text import visible

if TYPE_CHECKING:
    from securesystemslib.signer import Key, SSlibKey

    from ceremony import devices, plans, possession, signing, tokens
    from ceremony.overview import KeyChoice, RoleSummary
    from ceremony.review import KeyRef, Review
    from ceremony.rounds import SigningRound
    from ceremony.tokens import Evidence, PinSource, TokenInfo, TokenPool
    from ceremony.transfer.bundle import Bundle
    from ceremony.workspace import Workspace


@dataclass(frozen=True)
class KeyInfo:
    """A key pair on a token, as front ends show it."""

    token: TokenInfo
    label: str
    key_id: str
    key_type: str
    keyid: str | None
    owner: str | None
    evidence: Evidence | None
    key: SSlibKey | None

    @property
    def born_on_token(self) -> bool | None:
        return None if self.evidence is None else self.evidence.born_on_token


@dataclass(frozen=True)
class RecordInfo:
    """The ceremony record as the status bar and the transcript screen show it."""

    path: Path
    title: str
    records: int
    head_hash: str | None
    closed: bool
    problem: str | None


@dataclass(frozen=True)
class GeneratedKey:
    """A key generated on a token, with the evidence read back from it."""

    info: KeyInfo
    key: SSlibKey


class Ceremony:
    """One ceremony on one workspace folder (which may not be a workspace yet).

    ``allow_network`` is the operator's recorded override for rehearsals on
    networked machines; ``on_wait`` is told when another command holds the
    workspace lock; ``check`` runs the air-gap preflight (tests pass their
    own readings).
    """

    def __init__(
        self,
        path: Path,
        *,
        operator: str | None = None,
        allow_network: bool = False,
        module: str | Path | None = None,
        on_wait: Callable[[str], None] | None = None,
        check: Callable[[], PreflightReport] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.operator = operator
        self.allow_network = allow_network
        self._module = str(module) if module else None
        self._on_wait = on_wait
        self._check = check
        self._clock = clock
        self._workspace: Workspace | None = None
        self._pool: TokenPool | None = None
        self._module_path: Path | None = None
        self.transcript: audit.Transcript | None = None
        self.last_preflight: PreflightReport | None = None

    def __enter__(self) -> Ceremony:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Log out of every token this ceremony logged in to."""
        if self._pool is not None:
            self._pool.close()

    # ------------------------------------------------------------ workspace

    @property
    def is_workspace(self) -> bool:
        return load_config(self.path) is not None

    @property
    def workspace(self) -> Workspace:
        """The workspace; refused (NotAWorkspace) when the folder is not one."""
        from ceremony.workspace import Workspace

        if self._workspace is None:
            ws = Workspace.open(self.path)
            ws.on_wait = self._on_wait
            if self.transcript is not None:
                ws.set_recorder(self.transcript.record)
            self._workspace = ws
        return self._workspace

    def require_workspace(self) -> Workspace:
        """The workspace, for commands that must not create one by accident."""
        return self.workspace

    # -------------------------------------------------------------- module

    @property
    def module_path(self) -> Path:
        """The module the operator chose: --module, the environment, ceremony.toml,
        or a system install path. Never a path from a key URI."""

        if self._module_path is None:
            config = load_config(self.path)
            configured = config.module if config is not None else None
            self._module_path = modules.resolve_module_path(self._module, configured)
        return self._module_path

    def optional_module_path(self) -> Path | None:
        try:
            return self.module_path
        except CeremonyError:
            return None

    @property
    def pool(self) -> TokenPool:
        """The tokens of this ceremony; the module is recorded before first use."""
        from ceremony.tokens import TokenPool

        if self._pool is None:
            pool = TokenPool(self.module_path)
            self._record_module(pool)
            self._pool = pool
        return self._pool

    def _record_module(self, pool: TokenPool) -> None:
        from ceremony import tokens

        if self.transcript is None:
            return
        digest = _sha256_file(pool.module_path)
        start = audit.read_records(self.transcript.path)[0][0]["details"]
        if start.get("module_path") == str(pool.module_path) and (
            start.get("module_sha256") == digest
        ):
            return
        self.record(
            audit.MODULE,
            module_path=str(pool.module_path),
            module_sha256=digest,
            **tokens.module_details(pool.lib),
        )

    # -------------------------------------------------------------- record

    def begin(self, *, title: str | None = None, witnesses: Iterable[str] = ()) -> audit.Transcript:
        """What every state change does first: preflight, then today's open record.

        Today's open record is continued; otherwise a new one starts, which
        needs an operator's name (a record with nobody responsible is no
        record). With the network up the ceremony stops unless the operator
        allowed it, which is recorded once as an exception.
        """
        if self.transcript is not None:
            return self.transcript
        report = self._preflight()
        current = audit.Transcript.current(self.path)
        today = datetime.now(UTC).date()
        if current is not None and current.started.date() == today:
            return self._continue(current, report)
        if not self.operator:
            raise NoRecord(
                "no ceremony record is open, and a new one needs the operator's name",
                "start the ceremony with: ceremony audit start --title TITLE --operator NAME "
                "(or give --operator NAME to this command)",
            )
        title = title or f"Ceremony of {today.isoformat()}"
        return self._start(title, witnesses, report, implicit=True)

    def reopen(self, *, new_workspace: bool = False) -> audit.Transcript | None:
        """Go on in the open record whatever day it began, after a new preflight.

        A runbook interrupted by a power cut resumes in its own record, even
        the next morning (``begin`` would start a new one after midnight).
        With ``new_workspace``, a record whose ``start(new_workspace=True)``
        was cut short before the workspace was made gets its workspace now.
        None when no record is open.
        """
        from ceremony.workspace import Workspace

        if self.transcript is not None and not self.transcript.closed:
            return self.transcript
        current = audit.Transcript.current(self.path)
        if current is None:
            return None
        transcript = self._continue(current, self._preflight())
        if new_workspace and not self.is_workspace:
            Workspace.create(self.path, _new_config(self.path), transcript.record)
        return transcript

    def _continue(self, current: audit.Transcript, report: PreflightReport) -> audit.Transcript:
        already = self.allow_network and audit.override_recorded(current, report)
        if report.network_up and not already:
            audit.record_preflight(
                current, report, allow_network=self.allow_network, actor=self.operator
            )
        return self._attach(current)

    def start(
        self, title: str, witnesses: Iterable[str] = (), *, new_workspace: bool = False
    ) -> audit.Transcript:
        """Begin a ceremony explicitly (``audit start``): a new record, always.

        Refused while another record is open (close it first), without an
        operator, and on a folder that is not a workspace unless
        ``new_workspace`` says to create one (a typo must not become one).
        """
        from ceremony.workspace import Workspace

        if not self.operator:
            raise BadInput(
                "a ceremony needs an operator's name for its record",
                "give --operator NAME (the person running the laptop)",
            )
        if not self.is_workspace and not new_workspace:
            raise NotAWorkspace(
                f"{self.path} is not a ceremony workspace",
                "check the --workspace path (a typo?); to begin a new repository here, "
                "add --new-workspace",
            )
        current = audit.Transcript.current(self.path)
        if current is not None:
            raise WorkspaceError(
                f"a ceremony record is already open: {visible(current.title)!r} "
                f"({current.path.name}, started {current.started:%Y-%m-%d %H:%M} UTC)",
                "close it first with: ceremony audit close; or go on in it without audit start",
            )
        report = self._preflight()
        transcript = self._start(title, witnesses, report, implicit=False)
        if new_workspace and not self.is_workspace:
            Workspace.create(self.path, _new_config(self.path), transcript.record)
        return transcript

    def now(self) -> datetime:
        """The time shown on screens and in reviews (tests fix it)."""
        return self._clock() if self._clock is not None else datetime.now(UTC)

    def check_air_gap(self) -> PreflightReport:
        """Run the preflight for people to see; records nothing."""
        return self._preflight()

    def _preflight(self) -> PreflightReport:
        report = (self._check or airgap.preflight)()
        self.last_preflight = report
        return report

    def _start(
        self, title: str, witnesses: Iterable[str], report: PreflightReport, implicit: bool
    ) -> audit.Transcript:
        transcript = audit.Transcript.start(
            self.path,
            title=title,
            operator=self.operator,
            witnesses=witnesses,
            module_path=self.optional_module_path(),
            implicit=implicit,
        )
        try:
            audit.record_preflight(
                transcript, report, allow_network=self.allow_network, actor=self.operator
            )
        except CeremonyError:
            transcript.close(self.operator, outcome="refused before anything changed")
            raise
        return self._attach(transcript)

    def _attach(self, transcript: audit.Transcript) -> audit.Transcript:
        self.transcript = transcript
        if self._workspace is not None:
            self._workspace.set_recorder(transcript.record)
        if self._pool is not None:
            self._record_module(self._pool)
        return transcript

    def record(self, event: str, actor: str | None = None, **details: Any) -> None:
        """Append to the open record; refused when none is open."""
        if self.transcript is None:
            raise NoRecord(
                "no ceremony record is open",
                "start one with: ceremony audit start --title TITLE --operator NAME",
            )
        self.transcript.record(event, actor, **details)

    def record_error(self, error: CeremonyError) -> None:
        """An error of a state change goes into its record, if one is open."""
        if self.transcript is None or self.transcript.closed:
            return
        try:
            self.transcript.record(audit.ERROR, None, problem=error.problem, fix=error.fix)
        except (CeremonyError, OSError, ValueError):
            return

    def confirm(self, action: str, actor: str | None = None, **details: Any) -> None:
        """A person confirmed something the procedure asks them to."""
        self.record(audit.CONFIRMATION, actor or self.operator, action=action, **details)

    def close_record(self, **details: Any) -> str:
        """End the open ceremony; returns the head hash for the witnesses."""
        transcript = self.transcript or audit.Transcript.current(self.path)
        if transcript is None:
            raise BadInput(
                f"no open ceremony record in {self.path / audit.TRANSCRIPTS_DIR}",
                "start one with 'ceremony audit start', or check --workspace",
            )
        head = transcript.close(self.operator, **details)
        self.transcript = transcript
        return head

    def _writable(self) -> Workspace:
        """The workspace with its record open: what every change needs."""
        ws = self.workspace
        self.begin()
        return ws

    # -------------------------------------------------------------- tokens

    def tokens(self) -> list[TokenInfo]:
        """Every slot and what is in it now (no record: nothing changes)."""
        return self.pool.tokens()

    def token_keys(self, selector: str, pin_source: PinSource | None = None) -> list[KeyInfo]:
        """The key pairs on a token. Without a PIN only public keys are read
        (no evidence); with one, each private key's evidence too."""
        from ceremony import tokens

        with self.pool.exclusive():
            token = self.pool.find(selector)
            info = tokens.info_of(token)
            if pin_source is None:
                return [_public_info(token, info, pub) for pub in tokens.public_keys(token)]
            with tokens.logged_in(token, pin_source, module_path=self.pool.module_path) as session:
                return [_key_info(token, info, key) for key in tokens.list_keys(session)]

    def generate_key(
        self,
        selector: str,
        key_type: str,
        label: str,
        owner: str | None,
        pin_source: PinSource | None,
        *,
        final_try: bool = False,
    ) -> GeneratedKey:
        """A key pair born on the token, its evidence read back and recorded.

        The token's device profile says how: which key types it makes, and
        whether it wants the user PIN or (PIV cards: the management key) the
        security officer's secret, and which key slot (CKA_ID) to use.
        """
        from ceremony import devices, tokens
        from ceremony.keys import tuf_key_from_token

        if key_type not in tokens.KEY_SPECS:
            raise KeyError_(
                f"unknown key type {visible(key_type)!r}",
                f"choose one of: {', '.join(tokens.KEY_SPECS)}",
            )
        self.require_workspace()
        self.pool.find(selector)  # a missing token is refused before the record opens
        self._writable()
        with self.pool.exclusive():
            token = self.pool.find(selector)
            info = tokens.info_of(token)
            profile = devices.profile_for(info.manufacturer, info.model, info.firmware)
            if not profile.can_make(key_type):
                raise KeyNotAllowed(
                    f"a {profile.title} cannot make {key_type} keys",
                    f"choose one of: {', '.join(profile.key_types)}",
                )
            self.record(audit.TOKEN_SEEN, **info.to_dict())
            key_id = bytes([profile.default_key_id]) if profile.default_key_id is not None else None
            with self._generation_session(token, profile, pin_source, final_try) as session:
                key = tokens.generate_key(session, key_type, label, owner, key_id)
                tuf_key = tuf_key_from_token(token, key, owner)
                shown = _key_info(token, info, key, owner)
        self.record(
            audit.KEY_GENERATED,
            owner,
            keyid=tuf_key.keyid,
            type=key_type,
            label=key.label,
            token=info.label,
            serial=info.serial,
            device_profile=profile.name,
            uri=tuf_key.unrecognized_fields.get("x-ceremony-uri"),
            evidence=key.evidence.to_dict(),
            born_on_token=key.evidence.born_on_token,
        )
        return GeneratedKey(shown, tuf_key)

    def _generation_session(
        self,
        token: Any,
        profile: devices.DeviceProfile,
        pin_source: PinSource | None,
        final_try: bool,
    ) -> Any:
        from ceremony import tokens

        if profile.generation_login == "so":
            if pin_source is None:
                raise PinError(
                    f"a {profile.title} needs its {profile.so_secret} to make a key",
                    f"run interactively to type the {profile.so_secret}",
                )
            return tokens.officer_session(
                token, pin_source, profile.so_secret, self.pool.module_path
            )
        return tokens.logged_in(
            token,
            pin_source,
            rw=True,
            final_try=final_try,
            module_path=self.pool.module_path,
        )

    def export_key(
        self,
        selector: str,
        label: str,
        owner: str | None,
        pin_source: PinSource | None,
        *,
        allow_exportable: bool = False,
        final_try: bool = False,
    ) -> SSlibKey:
        """A key's public half as a TUF key, refused when not proven born on the token."""
        from ceremony import tokens
        from ceremony.keys import tuf_key_from_token

        with self.pool.exclusive():
            token = self.pool.find(selector)
            with tokens.logged_in(
                token, pin_source, final_try=final_try, module_path=self.pool.module_path
            ) as session:
                key = tokens.find_key(session, label=label)
                tokens.require_born_on_token(key, allow_exportable)
                return tuf_key_from_token(token, key, owner)

    def attest_token(
        self, selector: str, roots: list[Any], requirements: Any, key_label: str | None = None
    ) -> list[tuple[str, Any]]:
        """Check the attestation of every key on a token (no PIN needed).

        In a workspace each result is recorded, and a verified attestation is
        kept in keys/attestations/ so the next root names it at the top of
        its ``signed`` (``x-ceremony-attestations``), for anyone to re-check.
        """
        from ceremony import attest

        with self.pool.exclusive():
            results = attest.from_token(self.pool.find(selector), roots, requirements, key_label)
        if not self.is_workspace:
            return results
        ws = self._writable()
        for label, result in results:
            self.record(
                audit.ATTESTATION, None, key=label, keyid=result.keyid, **attest.record(result)
            )
            if result.ok and result.keyid:
                with ws.writing():
                    attest.keep(ws.keys_dir, result)
        return results

    def check_token_init(self, selector: str | None) -> None:
        """Refuse early (before PINs are typed) what init_token would refuse."""
        from ceremony import tokens

        self.require_workspace()
        if selector is not None:
            tokens.init_token_preflight(self.pool.lib, selector)

    def init_token(
        self,
        label: str,
        so_pin: str,
        user_pin: str,
        *,
        selector: str | None = None,
        erase: bool = False,
    ) -> TokenInfo:
        """Initialise a token (erasing one only when asked); recorded with what it is."""
        from ceremony import tokens

        self.require_workspace()
        lib = self.pool.lib
        self._writable()
        if erase:
            self.confirm("erase and initialise token", token=selector)
        with self.pool.exclusive():
            serial = tokens.init_token(
                lib,
                self.module_path,
                label=label,
                so_pin=so_pin,
                user_pin=user_pin,
                selector=selector,
                erase=erase,
            )
            info = tokens.info_of(self.pool.find(serial))
        self.record(audit.TOKEN_INITIALISED, self.operator, erased=erase, **info.to_dict())
        return info

    # ------------------------------------------------------------- changes

    def plan_root_init(
        self,
        plan: Any,
        expiry_days: dict[str, int],
        repository: str | None,
        profile: str | None = None,
    ) -> plans.StagePlan:
        from ceremony import plans

        return plans.plan_root_init(self.path, plan, expiry_days, repository, profile)

    def plan_rotation(self, plan: Any) -> plans.StagePlan:
        from ceremony import plans

        return plans.plan_rotation(self.workspace, plan)

    def plan_delegation(
        self, plan: Any, delegator: str, expiry_days: int | None
    ) -> plans.StagePlan:
        from ceremony import plans

        return plans.plan_delegation(self.workspace, plan, delegator, expiry_days)

    def plan_revoke(self, name: str, delegator: str) -> plans.StagePlan:
        from ceremony import plans

        return plans.plan_revoke(self.workspace, name, delegator)

    def plan_bump(self, role: str, expiry_days: int | None) -> plans.StagePlan:
        from ceremony import plans

        return plans.plan_bump(self.workspace, role, expiry_days)

    def stage(self, plan: plans.StagePlan) -> plans.Staged:
        """Carry out a stage plan (creating the workspace for a root init)."""
        from ceremony import plans
        from ceremony.workspace import Workspace

        if plan.create_workspace:
            if self.is_workspace:
                raise WorkspaceError(
                    f"{self.path} became a workspace after the plan was made",
                    "plan the root init again",
                )
            self.begin()
            assert self.transcript is not None and plan.config is not None
            ws = Workspace.create(self.path, plan.config, self.transcript.record)
            ws.on_wait = self._on_wait
            self._workspace = ws
        else:
            self._writable()
        return plans.stage(self.workspace, plan)

    def review(self, role: str) -> Review:
        """What the staged role changes, in words, with its hash; writes nothing."""
        from ceremony.review import describe_staged

        return describe_staged(self.workspace, role, self.now())

    def confirm_review(self, review: Review, actor: str | None = None) -> None:
        """The review was shown: from now on exactly that payload may be signed."""
        from ceremony.review import confirm_review

        confirm_review(self._writable(), review, actor)

    def status(self) -> list[signing.RoleStatus]:
        from ceremony import signing

        return signing.status(self.workspace)

    def overview(self) -> list[RoleSummary]:
        """The published roles with versions, expiry and thresholds."""
        from ceremony.overview import published_roles

        return published_roles(self.workspace, self.now())

    def key_choices(self, extra: Iterable[Path] = ()) -> tuple[list[KeyChoice], list[str]]:
        """Public keys a proposal can use: the workspace's keys/ and other folders."""
        from ceremony.overview import key_choices

        folders = [Path(p) for p in extra]
        if self.is_workspace:
            folders.insert(0, self.workspace.keys_dir)
        return key_choices(folders)

    def root_keys(self) -> dict[str, list[KeyRef]]:
        """The keys of each top-level role in the newest root (published, or staged v1)."""
        from ceremony import signing
        from ceremony.review import KeyRef

        root = signing.current_root(self.workspace)
        return {
            name: [KeyRef.of(root.keys[k]) for k in role.keyids if k in root.keys]
            for name, role in root.roles.items()
        }

    def record_info(self) -> RecordInfo | None:
        """The open record (or the newest one), verified as it is on disk now."""
        transcript = self.transcript or audit.Transcript.current(self.path)
        path = transcript.path if transcript is not None else _newest_record(self.path)
        if path is None:
            return None
        try:
            result = audit.verify_transcript(path)
        except CeremonyError as error:
            return RecordInfo(path, path.name, 0, None, False, error.problem)
        return RecordInfo(
            path, result.title or path.name, result.records, result.head_hash, result.closed, None
        )

    def record_text(self) -> str:
        """The record as readable text (what 'ceremony audit show' prints)."""
        info = self.record_info()
        if info is None:
            return "No ceremony record yet."
        return audit.render_text(info.path)

    def signing_round(
        self,
        role: str,
        *,
        token: str | None = None,
        key_label: str | None = None,
        allow_exportable: bool = False,
    ) -> SigningRound:
        """The guided round for a reviewed proposal (see ceremony.rounds)."""
        from ceremony import signing
        from ceremony.rounds import SigningRound

        ws = self._writable()
        signing.require_reviewed(ws, role, ws.staged_payload(role).digest)
        if allow_exportable:
            self.record(
                audit.CONFIRMATION,
                self.operator,
                action="allow keys that may exist outside their tokens",
                override="exportable-key",
                role=role,
            )
        return SigningRound(
            ws, self.pool, role, token=token, key_label=key_label, allow_exportable=allow_exportable
        )

    def plan_merge(self, path: Path, role: str | None = None) -> signing.MergePlan:
        from ceremony import signing

        return signing.plan_merge(self.workspace, path, role)

    def merge(self, plan: signing.MergePlan) -> signing.MergeOutcome:
        from ceremony import signing

        return signing.apply_merge(self._writable(), plan)

    def plan_publish(self, role: str) -> signing.PublishPlan:
        from ceremony import signing

        return signing.plan_publish(self.workspace, role)

    def publish(self, plan: signing.PublishPlan) -> list[Path]:
        from ceremony import signing

        return signing.apply_publish(self._writable(), plan)

    def writable_workspace(self) -> Workspace:
        """The workspace with its record open, for the transfer plans (imports, exports)."""
        return self._writable()

    # ------------------------------------------------------------ transfer

    def build_export(self, purpose: str = "publish", roles: list[str] | None = None) -> Bundle:
        """The bundle to carry across the air gap: publish, partial or keys (writes nothing)."""
        from ceremony.transfer import exchange

        if purpose == exchange.KEYS:
            return exchange.build_keys_export(self.workspace)
        return exchange.build_export(self.workspace, roles, purpose == exchange.PARTIAL)

    def export_to_dir(self, purpose: str, directory: Path, roles: list[str] | None = None) -> Path:
        """Write a bundle directory (a USB stick), refusing a stick that is not mounted."""
        from ceremony.transfer import exchange
        from ceremony.transfer.bundle import check_target

        self.build_export(purpose, roles)  # refused before the record opens
        check_target(directory)
        ws = self._writable()
        return exchange.export_dir(ws, self.build_export(purpose, roles), directory)

    def record_screen_export(self, bundle: Bundle, encoder: Any, shown: int) -> None:
        """The record of a bundle shown as QR codes on this screen."""
        from ceremony.transfer import qr

        qr.record_qr_export(
            self._writable(), bundle, encoder, shown, medium="qr-terminal", destination="screen"
        )

    def plan_import(self, path: Path) -> Any:
        """Read and check a bundle (directory or file); nothing is written."""
        from ceremony.transfer import exchange
        from ceremony.transfer.bundle import read_path

        return exchange.plan_import(self.workspace, read_path(path), str(path))

    def apply_import(self, plan: Any) -> Any:
        from ceremony.transfer import exchange

        return exchange.apply_import(self._writable(), plan)

    def write_public_key(self, key: SSlibKey, path: Path) -> Path:
        """A public key file for the administrator (outside the workspace)."""
        from ceremony.fsutil import write_atomic
        from ceremony.keys import key_to_json
        from ceremony.transfer.bundle import check_target

        path = Path(path)
        if not path.parent.exists():
            check_target(path)  # says: is the USB stick mounted?
        write_atomic(path, key_to_json(key))
        return path

    # --------------------------------------------------- proof of possession

    def possession_challenge(self) -> possession.Challenge:
        """The challenge a holder not in the room signs: the root proposal staged now."""
        from ceremony import possession

        ws = self.workspace
        if "root" not in ws.staged_roles():
            raise BadInput(
                "no root proposal is staged, so there is nothing to derive a challenge from",
                "stage the rotation first (without the absent holders' keys), then ask again",
            )
        staged = ws.staged_payload("root")
        return possession.Challenge(ws.config.repository, staged.version(), staged.digest)

    def check_possession(self, proof: possession.Proof, owner: str) -> Key:
        """The key of ``proof`` if it proves ``owner`` holds it, against the proposal
        staged now (refused with ProofRefused otherwise). Writes nothing."""
        from ceremony import possession

        return possession.check(proof, self.possession_challenge(), owner)

    def prove_possession(
        self,
        selector: str,
        label: str,
        owner: str,
        challenge: possession.Challenge,
        pin_source: PinSource | None,
    ) -> possession.Proof:
        """A holder's proof, made with the key ``label`` on their token (at home:
        no workspace and no record are needed, and nothing is written)."""
        from ceremony import possession, tokens
        from ceremony.keys import tuf_key_from_token, uri_for
        from ceremony.signer import Pkcs11Signer

        token = self.pool.find(selector)
        session = self.pool.session(token, pin_source)
        try:
            key = tokens.find_key(session, label=label)
            tokens.require_born_on_token(key, allow_exportable=False)
            tuf_key = tuf_key_from_token(token, key, owner)
            signer = Pkcs11Signer(uri_for(token, key), tuf_key, None, pool=self.pool)
            return possession.prove(signer, tuf_key, challenge)
        finally:
            self.pool.logout(tokens.serial_of(token))


def _newest_record(path: Path) -> Path | None:
    directory = path / audit.TRANSCRIPTS_DIR
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    return files[-1] if files else None


def _new_config(path: Path) -> Any:
    from ceremony.config import Config

    return Config(repository=path.resolve().name or "tuf-repository")


def _sha256_file(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _key_type_name(public: Any, key_type: Any) -> str:
    from ceremony import tokens

    try:
        return tokens.spec_for_key(public, key_type).name
    except CeremonyError as error:
        return f"unsupported ({error.problem})"


def _public_info(token: Any, info: TokenInfo, pub: tokens.PublicKey) -> KeyInfo:
    """What can be said of a key without logging in: no evidence yet."""
    from securesystemslib.signer import SSlibKey

    key: SSlibKey | None = None
    if pub.crypto is not None:
        try:
            key = SSlibKey.from_crypto(pub.crypto)
        except ValueError:
            key = None
    return KeyInfo(
        info,
        pub.label,
        pub.key_id.hex(),
        pub.key_type_name,
        key.keyid if key is not None else None,
        pub.owner,
        None,
        key,
    )


def _key_info(
    token: Any, info: TokenInfo, key: tokens.TokenKey, owner: str | None = None
) -> KeyInfo:
    from ceremony.keys import tuf_key_from_token

    tuf: SSlibKey | None
    try:
        tuf = tuf_key_from_token(token, key, owner)
    except CeremonyError:
        tuf = None
    key_type = _key_type_name(key.public, key.key_type) if key.public is not None else "?"
    return KeyInfo(
        info,
        key.label,
        key.key_id.hex(),
        key_type,
        tuf.keyid if tuf is not None else None,
        owner or key.owner,
        key.evidence,
        tuf,
    )
