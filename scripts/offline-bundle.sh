#!/usr/bin/env bash
# Build, on a connected machine, everything the air-gapped laptop needs to
# install tuf-ceremony with no network: every wheel for one Python version
# and platform, a lock file with their SHA-256 hashes, SHA256SUMS over the
# whole bundle, and install.sh (pip --no-index --require-hashes into a new
# virtual environment).
#
#   scripts/offline-bundle.sh OUT_DIR                  # for this machine's Python
#   scripts/offline-bundle.sh OUT_DIR --python-version 3.12 \
#       --platform manylinux_2_28_x86_64   # a glibc 2.28 (or newer) laptop
#   scripts/offline-bundle.sh OUT_DIR --extras receive  # also the QR receiver
#
# Without --platform, wheels are built here (with this machine's python3),
# so packages published only as source work too; with --platform, only
# published wheels for that platform are fetched (pip download
# --only-binary). PIP_CACHE_DIR is honoured, so a second build is quick.
set -euo pipefail
usage() {
  echo "usage: $0 OUT_DIR [--python PYTHON] [--python-version X.Y] [--platform TAG]... [--extras LIST]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
out=$1
shift
python=python3
pyver=""
extras=""
platforms=()
while [ $# -gt 0 ]; do
  case $1 in
    --python) python=$2; shift 2 ;;
    --python-version) pyver=$2; shift 2 ;;
    --platform) platforms+=("$2"); shift 2 ;;
    --extras) extras=$2; shift 2 ;;
    *) usage ;;
  esac
done
if [ -e "$out" ]; then
  echo "error: $out already exists; give a new directory" >&2
  exit 2
fi
source_dir=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/wheels"
wheels=$work/bundle/wheels

echo "Building the tuf-ceremony wheel from $source_dir"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$wheels" "$source_dir"
own=$(ls "$wheels"/tuf_ceremony-*.whl)
requirement="$own"
[ -z "$extras" ] || requirement="tuf_ceremony[$extras] @ file://$own"

if [ ${#platforms[@]} -eq 0 ]; then
  [ -z "$pyver" ] || { echo "error: --python-version needs --platform" >&2; exit 2; }
  echo "Fetching and building every dependency for $("$python" --version)"
  "$python" -m pip wheel --quiet --wheel-dir "$wheels" "$requirement"
  pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
else
  [ -n "$pyver" ] || { echo "error: --platform needs --python-version" >&2; exit 2; }
  args=(--only-binary=:all: --python-version "$pyver" --implementation cp)
  for tag in "${platforms[@]}"; do
    args+=(--platform "$tag")
    # pip matches platform tags exactly: a glibc 2.N system also runs every
    # older manylinux wheel, so name those too.
    if [[ $tag =~ ^manylinux_2_([0-9]+)_(.+)$ ]]; then
      arch=${BASH_REMATCH[2]}
      for ((minor = BASH_REMATCH[1] - 1; minor >= 17; minor--)); do
        args+=(--platform "manylinux_2_${minor}_${arch}")
      done
      args+=(--platform "manylinux2014_${arch}")
    fi
  done
  echo "Fetching wheels for CPython $pyver on ${platforms[*]}"
  "$python" -m pip download --quiet --dest "$wheels" "${args[@]}" "$requirement"
fi

# The lock: one pinned line per wheel with its hash. pip --require-hashes
# refuses anything else, so nothing unlisted can be installed from it.
"$python" - "$wheels" "$work/bundle/requirements.lock" "$pyver" "$extras" <<'PY'
import hashlib, pathlib, re, sys
wheels, lock, pyver, extras = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
lines = [f"# tuf-ceremony offline bundle for CPython {pyver}; install with install.sh\n"]
for wheel in sorted(wheels.glob("*.whl")):
    name, version = wheel.name.split("-")[:2]
    name = re.sub(r"[-_.]+", "-", name).lower()
    if name == "tuf-ceremony" and extras:
        name = f"tuf-ceremony[{extras}]"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lines.append(f"{name}=={version} --hash=sha256:{digest}\n")
lock.write_text("".join(lines))
PY

cat >"$work/bundle/install.sh" <<'SH'
#!/bin/sh
# Install tuf-ceremony from this bundle, with no network, into a new
# virtual environment: sh install.sh [VENV_DIR] (default ./tuf-ceremony-venv).
# Every file is checked against SHA256SUMS first, and pip installs only the
# wheels the lock file names, each with its SHA-256.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:-tuf-ceremony-venv}
python=${PYTHON:-python3}
(cd "$here" && sha256sum --check --quiet SHA256SUMS)
if [ -e "$target" ]; then
  echo "error: $target already exists; give a new directory" >&2
  exit 2
fi
"$python" -m venv "$target"
"$target/bin/python" -m pip --isolated install --quiet --no-index --require-hashes \
  --find-links "$here/wheels" --requirement "$here/requirements.lock"
echo "Installed: $("$target/bin/ceremony" --version) in $target"
echo "Run it as $target/bin/ceremony, or activate with: . $target/bin/activate"
SH
chmod +x "$work/bundle/install.sh"

(cd "$work/bundle" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort |
  xargs sha256sum >SHA256SUMS)
mkdir -p "$(dirname "$out")"
mv "$work/bundle" "$out"
count=$(ls "$out/wheels" | wc -l)
echo "Bundle for CPython $pyver in $out: $count wheels, requirements.lock, install.sh, SHA256SUMS"
echo "SHA-256 of SHA256SUMS (read it aloud, compare on the laptop):"
sha256sum "$out/SHA256SUMS" | cut -d' ' -f1
