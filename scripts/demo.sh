#!/usr/bin/env bash
# Set up (see setup.sh), then rehearse a whole ceremony on SoftHSM tokens
# kept under ./rehearsal/ (recreated on every run): holders create keys on
# their tokens, root v1 and targets v1 are signed, verified and published,
# and the ceremony record is closed and printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

rm -rf rehearsal
mkdir -p rehearsal
.venv/bin/ceremony --workspace rehearsal/workspace rehearse
SOFTHSM2_CONF="$PWD/rehearsal/workspace-tokens/softhsm2.conf" \
  .venv/bin/ceremony --workspace rehearsal/workspace token list
echo
echo "The printable ceremony record:"
.venv/bin/ceremony --workspace rehearsal/workspace audit show --format md -o rehearsal/record.md
echo "  rehearsal/record.md"
