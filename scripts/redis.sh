#!/usr/bin/env bash
# Installs, starts and stops the Redis server that openwhisk-composer's own
# parallel combinator needs (the baseline of the fan-out experiment and its
# test): Debian's redis-server, on a free loopback port, without
# persistence, in its own temporary folder.
#
#   scripts/redis.sh install        # apt-get install redis-server when missing (root)
#   scripts/redis.sh start [ENVFILE] # writes ENVFILE (default $WSKX_CACHE/redis.env)
#   scripts/redis.sh stop  [ENVFILE] # stops by recorded PID, removes the folder
#
# The env file holds WSKX_REDIS_URL (redis://127.0.0.1:PORT) and the PID.
set -euo pipefail

CACHE="${WSKX_CACHE:-$HOME/.cache/wskx}"

log() { echo "redis: $*" >&2; }

install() {
  command -v redis-server >/dev/null && return 0
  if [[ $(id -u) -ne 0 ]]; then
    # Not fatal: the tests that need it skip, saying so.
    log "redis-server is not installed, and only root can install it: sudo apt-get install redis-server"
    return 0
  fi
  log "installing redis-server (Debian)"
  local out
  out=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; } >"$out" 2>&1; then
    tail -n 20 "$out" >&2
    rm -f "$out"
    log "apt-get install redis-server failed"
    return 1
  fi
  rm -f "$out"
  # The package starts a system-wide server; the tests start their own.
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    systemctl stop redis-server || true
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null && return
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
  done
}

start() {
  local envfile="${1:-$CACHE/redis.env}"
  command -v redis-server >/dev/null || { log "redis-server is not installed: scripts/redis.sh install"; return 1; }
  mkdir -p "$(dirname "$envfile")"
  local root port pid
  root=$(mktemp -d "${TMPDIR:-/tmp}/wskx-redis.XXXXXX")
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --dir "$root" --save '' --appendonly no \
    --daemonize no --protected-mode yes --loglevel warning \
    >"$root/redis.log" 2>&1 </dev/null &
  pid=$!
  cat >"$envfile" <<EOF
# written by scripts/redis.sh start; removed by stop
WSKX_REDIS_URL='redis://127.0.0.1:$port'
WSKX_REDIS_PID='$pid'
WSKX_REDIS_ROOT='$root'
EOF
  for _ in $(seq 1 200); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
      log "started on 127.0.0.1:$port (env file $envfile)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  log "redis-server did not open port $port: $(tail -n 5 "$root/redis.log")"
  stop "$envfile"
  return 1
}

stop() {
  local envfile="${1:-$CACHE/redis.env}"
  [[ -f "$envfile" ]] || { log "no env file $envfile: nothing to stop"; return 0; }
  local pid root
  pid=$(sed -n "s/^WSKX_REDIS_PID='\(.*\)'$/\1/p" "$envfile")
  root=$(sed -n "s/^WSKX_REDIS_ROOT='\(.*\)'$/\1/p" "$envfile")
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  [[ -n "$root" && -d "$root" ]] && rm -rf "$root"
  rm -f "$envfile"
  log "stopped"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 install|start [ENVFILE]|stop [ENVFILE]" >&2; exit 2 ;;
esac
