#!/usr/bin/env bash
# OPTIONAL. Creates a Python venv with the reference implementation (PyTorch CPU, transformers,
# PEFT, safetensors) used only to regenerate the golden files under
# lora-core/src/test/resources/golden/ and for the PyTorch peer benchmark.
# The Java build and its tests never run Python: the generated files are committed.
#
# Usage: scripts/setup-python.sh [VENV_DIR]      (default: .venv-python in the repo root)
# Package sources, in order: $PIP_FIND_LINKS / $PIP_INDEX_URL if set, else the local indexes
# of this machine (file:///opt/pypi/simple, file:///opt/pypi-more/simple, /opt/wheels),
# never a remote index unless you point PIP_INDEX_URL at one yourself.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo_root/.venv-python}"
python="${PYTHON:-python3}"

index_args=()
if [[ -n "${PIP_INDEX_URL:-}" ]]; then
  index_args+=(--index-url "$PIP_INDEX_URL")
else
  [[ -d /opt/pypi/simple ]] && index_args+=(--index-url file:///opt/pypi/simple)
  [[ -d /opt/pypi-more/simple ]] && index_args+=(--extra-index-url file:///opt/pypi-more/simple)
fi
[[ -d /opt/wheels ]] && index_args+=(--find-links /opt/wheels)
if [[ ${#index_args[@]} -eq 0 ]]; then
  echo "setup-python.sh: no local package index found (/opt/pypi/simple, /opt/wheels);" \
       "set PIP_INDEX_URL (for torch CPU wheels also PIP_FIND_LINKS or an extra index)" >&2
  exit 1
fi

"$python" -m venv "$venv"
"$venv/bin/pip" install --disable-pip-version-check "${index_args[@]}" \
  -r "$repo_root/scripts/python-requirements.txt"
"$venv/bin/python" - <<'PY'
import numpy, peft, safetensors, torch, transformers
print("torch", torch.__version__, "transformers", transformers.__version__,
      "peft", peft.__version__, "safetensors", safetensors.__version__, "numpy", numpy.__version__)
PY
echo "venv ready: $venv"
