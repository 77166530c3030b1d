"""Exception types of our own.

Every error a person can meet carries the problem and the fix, in words
that fit both front ends (the command line and the app). The classes exist
so a front end can tell apart the cases it must treat differently (a wrong
token is a prompt to swap tokens, a final PIN try needs a confirmation, a
busy workspace can be waited for); how an error ends a command (its exit
code) is decided in ``ceremony/cli.py`` alone. Nothing below the edges
prints.
"""

from __future__ import annotations


class CeremonyError(Exception):
    """Base of every error the tool reports to a person."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def message(self) -> str:
        """The text shown to the user: what went wrong, then what to do."""
        return f"{self.problem}\n  What to do: {self.fix}"


class BadInput(CeremonyError):
    """The user gave something we cannot use."""


class CheckFailed(CeremonyError):
    """A verification or threshold check did not pass."""


# ------------------------------------------------------------------- input


class InputEnded(BadInput):
    """A prompt got end of input (Ctrl-D, or a closed stdin) instead of an answer."""


class UnsafeName(BadInput):
    """A name from outside (a role, a file in a bundle) cannot safely become a file name."""


class NotReviewed(BadInput):
    """Signing was asked for a payload nobody reviewed."""


# -------------------------------------------------------------------- keys


class KeyError_(BadInput):
    """A key is missing, duplicated, or not fit to be a TUF signing key."""


class PrivateKeyMaterial(KeyError_):
    """A key file or metadata carries private key material."""


class KeyNotAllowed(KeyError_):
    """A key type, size or scheme the design does not allow."""


class DuplicateKey(KeyError_):
    """The same public key twice for one role, whatever its keyid."""


# --------------------------------------------------------------- workspace


class WorkspaceError(BadInput):
    """The workspace on disk is missing, malformed or would be overwritten."""


class NotAWorkspace(WorkspaceError):
    """The folder is not a ceremony workspace (a typo must not become one)."""


class NoRecord(WorkspaceError):
    """A state change was attempted with no open ceremony record."""


class WorkspaceBusy(WorkspaceError):
    """Another command holds the workspace lock for longer than we wait."""


class TransferError(BadInput):
    """A bundle or QR transfer is malformed, tampered or for another repository."""


# ------------------------------------------------------------------ checks


class SignatureError(CheckFailed):
    """A signature did not verify against its public key."""


class ThresholdUnmet(CheckFailed):
    """A role does not have the signatures its thresholds need."""


class ProofRefused(CheckFailed):
    """A proof of possession for a key from outside the room does not hold."""


class NetworkUp(CheckFailed):
    """The air-gap preflight found the network up and no override was given."""


# ------------------------------------------------------------------ tokens


class ModuleError(BadInput):
    """The PKCS#11 module is missing or cannot be loaded."""


class TokenError(BadInput):
    """A token is missing, ambiguous or cannot do what was asked."""


class TokenMissing(TokenError):
    """The token asked for is not present."""


class WrongToken(TokenError):
    """The token present is not the one that holds the key asked for."""


class TokenRemoved(TokenError):
    """The token was removed (or lost power) during an operation."""


class SessionLost(TokenError):
    """The module no longer knows the session (token reset or removed)."""


class DeviceError(TokenError):
    """The token or its module failed; the operation did not happen."""


class PinError(CheckFailed):
    """Login failed or was refused; the message says what the token reports now."""


class WrongPin(PinError):
    """The token refused the PIN; one try was spent."""


class PinLocked(PinError):
    """The PIN is locked: only the security officer can unblock it."""


class FinalPinTry(PinError):
    """One PIN try is left; trying needs an explicit confirmation."""


class TransferIncomplete(CheckFailed):
    """The frames ran out before a transfer was complete: show or read more."""
