#!/usr/bin/env bash
# Creates (or refreshes) the Python virtualenv the tests use, at $VENV (default .venv),
# and prints its path. Re-running with unchanged requirements installs nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="${VENV:-$root/.venv}"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$root/hack/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/hack/requirements.txt" >&2
  echo "$want" > "$stamp"
fi
echo "$venv"
