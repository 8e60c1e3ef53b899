#!/usr/bin/env bash
# The Python example skill's virtual environment, for its test: .tools/skill-python
# with examples/skill-python/requirements.txt installed from PyPI. Made again
# only when the requirements change. Prints the environment's python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/skill-python
req=examples/skill-python/requirements.txt
stamp="$venv/requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: the Python example's virtual environment (PyJWT from PyPI, once)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$stamp"
fi
echo "$PWD/$venv/bin/python"
