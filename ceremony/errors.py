"""Exception types of our own.

Every error a user can meet carries the problem and the fix, and the exit
code the command line returns for it: 2 for bad usage or bad input, 1 for a
check that failed. The front ends turn them into messages; nothing below the
edges prints.
"""

from __future__ import annotations


class CeremonyError(Exception):
    """Base of every error the tool reports to a person."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def message(self) -> str:
        """The text shown to the user: what went wrong, then what to do."""
        if self.fix:
            return f"{self.problem}\n  What to do: {self.fix}"
        return self.problem


class BadInput(CeremonyError):
    """The user gave something we cannot use (exit 2)."""

    exit_code = 2


class CheckFailed(CeremonyError):
    """A verification or threshold check did not pass (exit 1)."""

    exit_code = 1


class ModuleError(BadInput):
    """The PKCS#11 module is missing or cannot be loaded."""


class TokenError(BadInput):
    """A token is missing, ambiguous or cannot do what was asked."""


class PinError(CeremonyError):
    """Login failed; the message says what the token reports now."""

    exit_code = 1


class KeyError_(BadInput):
    """A key is missing, duplicated, or not fit to be a TUF signing key."""


class SignatureError(CheckFailed):
    """A signature did not verify against its public key."""


class WorkspaceError(BadInput):
    """The workspace on disk is missing, malformed or would be overwritten."""


class TransferError(BadInput):
    """A bundle or QR transfer is malformed, tampered or for another repository."""


class TransferIncomplete(CheckFailed):
    """The frames ran out before a transfer was complete (exit 1): show or read more."""
