#!/usr/bin/env bash
# N app replicas behind nginx with sticky sessions, without Docker (Debian: apt-get install nginx):
#   deploy/run_replicas.sh [N]          # N replicas (default 2) on 127.0.0.1:8501.., the proxy on :8080
# Environment: BASE_PORT (8501), PROXY_PORT (8080), PYTHON (python3, with requirements.txt installed), and anything
# the app reads (MMA_PACK, MMA_MODEL_BUDGET_MB, HF_HUB_OFFLINE...). Stays in the foreground; Ctrl-C (or SIGTERM)
# stops nginx and every replica. Each replica's output goes to $LOG_DIR/replica-<port>.log, the proxy's access log
# (time, request id, the browser's mma_replica cookie, the replica that answered, status...) to
# $LOG_DIR/proxy-access.log.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-2}"
BASE_PORT="${BASE_PORT:-8501}"
PROXY_PORT="${PROXY_PORT:-8080}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mma-replicas.XXXXXX")"
LOG_DIR="${LOG_DIR:-$WORK}"
[ -x "$NGINX" ] || { echo "nginx not found: apt-get install nginx (or set NGINX=/path/to/nginx)" >&2; exit 1; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK/nginx.conf" "$WORK"/nginx-*; rmdir "$WORK" 2>/dev/null || true
  echo "stopped ${#pids[@]} processes" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The upstream block for N ports, the rest of deploy/nginx.conf as it is; temporary files under $WORK.
servers=""
for ((i = 0; i < N; i++)); do
  servers+="        server 127.0.0.1:$((BASE_PORT + i)) max_fails=2 fail_timeout=10s;\n"
done
awk -v servers="$servers" -v port="$PROXY_PORT" -v work="$WORK" -v access_log="$LOG_DIR/proxy-access.log" '
  /# replicas: begin/ { print; printf "%s", servers; skip = 1; next }
  /# replicas: end/   { skip = 0 }
  skip { next }
  /listen 8080;/ { sub(/8080/, port) }
  /access_log off;/ { sub(/off/, access_log " mma_upstream") }
  /^pid / { print "pid " work "/nginx.pid;"; next }
  /_temp_path / { sub(/\/tmp\/mma-nginx-/, work "/nginx-") }
  { print }' deploy/nginx.conf > "$WORK/nginx.conf"  # awk -v turns each \n into a line break
"$NGINX" -t -q -e stderr -c "$WORK/nginx.conf"

for ((i = 0; i < N; i++)); do
  port=$((BASE_PORT + i))
  PORT=$port ADDRESS=127.0.0.1 deploy/entrypoint.sh >"$LOG_DIR/replica-$port.log" 2>&1 &
  pids+=($!)
done
echo "started $N replicas on 127.0.0.1:$BASE_PORT-$((BASE_PORT + N - 1)) (logs: $LOG_DIR)" >&2

# Wait for every replica's health check (READY_S, default 180 s), then run the proxy in the foreground of this script.
ready() {
  local port=$1 pid=$2 deadline=$((SECONDS + ${READY_S:-180}))
  while ((SECONDS < deadline)); do
    curl -fsS --noproxy '*' "http://127.0.0.1:$port/_stcore/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "replica on :$port did not become healthy:" >&2; tail -20 "$LOG_DIR/replica-$port.log" >&2; return 1
}
for ((i = 0; i < N; i++)); do ready $((BASE_PORT + i)) "${pids[$i]}"; done
"$NGINX" -e stderr -c "$WORK/nginx.conf" &
pids+=($!)
echo "proxy on http://127.0.0.1:$PROXY_PORT (sticky per browser; Ctrl-C stops everything)" >&2
wait -n "${pids[@]}"  # one of them stopped: stop the rest
