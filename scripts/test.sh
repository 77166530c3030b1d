#!/usr/bin/env bash
# Set up (see setup.sh), lint, type-check, then run the whole test suite against SoftHSM2.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check ceremony tui tests bench fuzz scripts
.venv/bin/mypy ceremony tui
exec .venv/bin/python -m pytest "$@"
