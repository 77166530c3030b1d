"""Which PKCS#11 module to load: the operator's choice, or a system install path.

Apart from ceremony.tokens so that naming the module (the status bar, the
record) does not load python-pkcs11: only a path the operator chose (or a
system install path) is ever loaded, since loading a shared library runs
its code, and a key URI or a file from outside never names the module.
"""

from __future__ import annotations

import os
from pathlib import Path

from ceremony.errors import ModuleError

WELL_KNOWN_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/libykcs11.so",
    "/usr/lib/aarch64-linux-gnu/libykcs11.so",
    "/usr/local/lib/libykcs11.so",
)


def resolve_module_path(explicit: str | None, configured: str | None = None) -> Path:
    """Pick the PKCS#11 module: --module, $CEREMONY_PKCS11_MODULE, ceremony.toml,
    then the first well-known system path that exists.

    Only a path the operator chose (or a system install path) is ever
    loaded: loading a shared library runs its code, so a key URI or a file
    from outside never names the module.
    """
    for candidate in (explicit, os.environ.get("CEREMONY_PKCS11_MODULE"), configured):
        if candidate:
            return Path(candidate)
    for known in WELL_KNOWN_MODULES:
        if Path(known).is_file():
            return Path(known)
    raise ModuleError(
        "no PKCS#11 module found: tried " + ", ".join(WELL_KNOWN_MODULES),
        "install your token's module (for rehearsals: apt-get install softhsm2) "
        "or name it with --module PATH or CEREMONY_PKCS11_MODULE",
    )
