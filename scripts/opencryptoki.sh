#!/usr/bin/env bash
# A second PKCS#11 implementation for the token layer's tests: opencryptoki's
# software token (Debian package opencryptoki), beside SoftHSM2.
#
# Installs the package where missing, configures four software-token slots
# (10-13, token store /var/lib/opencryptoki/swtok/ceremony-sw-*) and starts
# the slot daemon pkcsslotd. opencryptoki reads only its system-wide
# configuration, so this needs root and changes
# /etc/opencryptoki/opencryptoki.conf (the original is kept as .orig).
# Idempotent. The tests (tests/backends.py) use these slots and skip
# opencryptoki when they are not there, unless TEST_REQUIRE_OPENCRYPTOKI=1
# (CI) makes that a failure.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "opencryptoki.sh needs root (it configures a system daemon)" >&2
  exit 2
fi
if ! command -v pkcsslotd >/dev/null 2>&1 && [ ! -x /usr/sbin/pkcsslotd ]; then
  echo "Installing Debian package: opencryptoki"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opencryptoki >/dev/null
fi
conf=/etc/opencryptoki/opencryptoki.conf
if ! grep -q "tokname = ceremony-sw-d" "$conf" 2>/dev/null; then
  [ -f "$conf.orig" ] || cp "$conf" "$conf.orig"
  {
    echo "version opencryptoki-3.1"
    for slot in 10 11 12 13; do
      name=$(printf "\\x$(printf %x $((97 + slot - 10)))")
      printf '\nslot %s\n{\nstdll = libpkcs11_sw.so\ntokname = ceremony-sw-%s\n}\n' "$slot" "$name"
    done
  } >"$conf"
  if [ -s /var/run/pkcsslotd.pid ] && kill -0 "$(cat /var/run/pkcsslotd.pid)" 2>/dev/null; then
    old=$(cat /var/run/pkcsslotd.pid)
    kill "$old"   # restarted below with the new slots
    for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.2; done
    sleep 1
  fi
fi
mkdir -p /var/lock/opencryptoki /var/log/opencryptoki
if ! { [ -s /var/run/pkcsslotd.pid ] && kill -0 "$(cat /var/run/pkcsslotd.pid)" 2>/dev/null; }; then
  /usr/sbin/pkcsslotd
fi
if ! pkcsconf -s 2>/dev/null | grep -q "Slot #13"; then
  echo "opencryptoki: pkcsslotd does not show slots 10-13 (see pkcsconf -s)" >&2
  exit 1
fi
echo "opencryptoki: software-token slots 10-13 ready (pkcsslotd running)"
