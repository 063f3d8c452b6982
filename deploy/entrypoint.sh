#!/bin/sh
# The container's entrypoint, also usable without a container (deploy/run_replicas.sh starts each replica with it).
#   PORT            port to listen on (default 8501; Hugging Face Spaces' Docker SDK and most hosts set it)
#   ADDRESS         interface to bind (default 0.0.0.0: reachable from outside the container; 127.0.0.1 behind a
#                   proxy on the same machine)
#   PYTHON          interpreter that has requirements.txt installed (default: python3)
#   HF_HUB_OFFLINE  default 1: the app never asks the Hugging Face hub and serves the bundled pack plus the real
#                   offline weights; set HF_HUB_OFFLINE=0 to let it download the hub pack (needs a writable HF_HOME)
# Any further arguments go to `streamlit run` (e.g. --server.baseUrlPath=/demo). Settings that do not depend on the
# host (headless, no file watcher, no usage statistics, upload limit) live in .streamlit/config.toml.
set -eu
cd "$(dirname "$0")/.."

: "${PORT:=8501}"
: "${ADDRESS:=0.0.0.0}"
: "${PYTHON:=python3}"
: "${HF_HUB_OFFLINE:=1}"
export HF_HUB_OFFLINE
if [ "$HF_HUB_OFFLINE" = "1" ]; then
  export TRANSFORMERS_OFFLINE=1
fi

exec "$PYTHON" -m streamlit run app.py \
  --server.address "$ADDRESS" \
  --server.port "$PORT" \
  --server.headless true \
  --browser.gatherUsageStats false \
  "$@"
