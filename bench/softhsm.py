"""A throwaway SoftHSM2 token directory for benchmarks (never the user's)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def private_softhsm() -> Path:
    """Point SOFTHSM2_CONF at a fresh token directory; call before loading
    the module."""
    root = Path(tempfile.mkdtemp(prefix="ceremony-bench-"))
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return root
