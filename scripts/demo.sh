#!/usr/bin/env bash
# Set up (see setup.sh), then open the key holders' app on a rehearsal: four
# holders with keys on private SoftHSM tokens kept under ./rehearsal/
# (recreated on every run) and root version 1 waiting for their signatures.
# Every rehearsal PIN is "rehearsal-pin". The headless rehearsal of a whole
# ceremony stays available as: .venv/bin/ceremony --workspace DIR rehearse
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

rm -rf rehearsal
mkdir -p rehearsal
echo "Preparing the rehearsal (tokens, keys, root v1 staged)…"
exec .venv/bin/ceremony --workspace rehearsal/workspace rehearse --tui "$@"
