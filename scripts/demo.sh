#!/usr/bin/env bash
# Set up (see setup.sh), then run the rehearsal: a SoftHSM token directory of
# its own under ./rehearsal, a token with a key on it, and the token list.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

REHEARSAL="$PWD/rehearsal"
mkdir -p "$REHEARSAL/tokens"
export SOFTHSM2_CONF="$REHEARSAL/softhsm2.conf"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$REHEARSAL/tokens" > "$SOFTHSM2_CONF"
# Rehearsal PINs only: real ceremonies type PINs at a prompt that does not echo.
export CEREMONY_SO_PIN=rehearsal-so CEREMONY_PIN=rehearsal
C=.venv/bin/ceremony

if ! $C token list --json | grep -q '"label": "rehearsal-1"'; then
  $C token init --label rehearsal-1
  $C key generate --token rehearsal-1 --label root-1 --owner "Rehearsal Holder" \
    -o "$REHEARSAL/root-1.pub.json"
fi
$C token list
$C key list --token rehearsal-1
