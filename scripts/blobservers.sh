#!/usr/bin/env bash
# Installs, starts and stops the real blob servers the storage tests use:
# Azurite (Azure Blob), versitygw (S3) and fake-gcs-server (GCS), each on a
# free loopback port in its own temporary folder.
#
#   scripts/blobservers.sh install        # once per machine, into $WSKX_CACHE
#   scripts/blobservers.sh start [ENVFILE] # writes ENVFILE (default $WSKX_CACHE/blobservers.env)
#   scripts/blobservers.sh stop  [ENVFILE] # stops by recorded PID, removes temp folders
#
# The env file exports WSKX_TEST_AZURE_URL, WSKX_TEST_S3_URL, WSKX_TEST_GCS_URL
# and the credentials each SDK reads from its environment; tests source it
# through WSKX_BLOBSERVERS_ENV (or find it at the default path).
set -euo pipefail

CACHE="${WSKX_CACHE:-$HOME/.cache/wskx}"
AZURITE_VERSION="3.37.0"
VERSITYGW_VERSION="v1.8.0"
FAKEGCS_VERSION="v1.56.1"
BIN="$CACHE/bin"
NODE_DIR="$CACHE/azurite-$AZURITE_VERSION"
# Azurite's well-known development account (published by Microsoft, not a secret).
AZ_ACCOUNT="devstoreaccount1"
AZ_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

log() { echo "blobservers: $*" >&2; }

install() {
  mkdir -p "$BIN"
  if [[ ! -x "$NODE_DIR/node_modules/.bin/azurite-blob" ]]; then
    log "installing azurite@$AZURITE_VERSION"
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent "azurite@$AZURITE_VERSION" >&2
  fi
  if [[ ! -x "$BIN/versitygw-$VERSITYGW_VERSION" ]]; then
    log "installing versitygw@$VERSITYGW_VERSION"
    tmp=$(mktemp -d)
    GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
    mv "$tmp/versitygw" "$BIN/versitygw-$VERSITYGW_VERSION"
    rmdir "$tmp"
  fi
  if [[ ! -x "$BIN/fake-gcs-server-$FAKEGCS_VERSION" ]]; then
    log "installing fake-gcs-server@$FAKEGCS_VERSION"
    tmp=$(mktemp -d)
    GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/fsouza/fake-gcs-server@$FAKEGCS_VERSION"
    mv "$tmp/fake-gcs-server" "$BIN/fake-gcs-server-$FAKEGCS_VERSION"
    rmdir "$tmp"
  fi
}

# free_port asks the kernel for an unused loopback port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null && return
  # No python: pick from the ephemeral range and check nothing listens there.
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
  done
}

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 200); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  log "$name did not open port $port"
  return 1
}

start() {
  local envfile="${1:-$CACHE/blobservers.env}"
  install
  mkdir -p "$(dirname "$envfile")"
  local root
  root=$(mktemp -d "${TMPDIR:-/tmp}/wskx-blobservers.XXXXXX")
  mkdir -p "$root/azurite" "$root/s3" "$root/sidecar" "$root/gcs"

  local azport s3port gcsport
  azport=$(free_port)
  "$NODE_DIR/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$azport" \
    --location "$root/azurite" --skipApiVersionCheck --loose --disableTelemetry --silent \
    >"$root/azurite.log" 2>&1 </dev/null &
  local azpid=$!

  s3port=$(free_port)
  local s3key s3secret
  s3key="wskx$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  s3secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  ROOT_ACCESS_KEY="$s3key" ROOT_SECRET_KEY="$s3secret" "$BIN/versitygw-$VERSITYGW_VERSION" \
    --port "127.0.0.1:$s3port" --quiet posix --sidecar "$root/sidecar" "$root/s3" \
    >"$root/versitygw.log" 2>&1 </dev/null &
  local s3pid=$!

  gcsport=$(free_port)
  "$BIN/fake-gcs-server-$FAKEGCS_VERSION" -scheme http -host 127.0.0.1 -port "$gcsport" \
    -backend filesystem -filesystem-root "$root/gcs" \
    -external-url "http://127.0.0.1:$gcsport" -public-host "127.0.0.1:$gcsport" -log-level warn \
    >"$root/fake-gcs.log" 2>&1 </dev/null &
  local gcspid=$!

  cat >"$envfile" <<EOF
# written by scripts/blobservers.sh start; removed by stop
WSKX_BLOBSERVERS_ROOT='$root'
WSKX_BLOBSERVERS_PIDS='$azpid $s3pid $gcspid'
WSKX_TEST_AZURE_URL='azblob://wskx-test?protocol=http&domain=127.0.0.1:$azport&localemu=true'
WSKX_TEST_AZURE_PID='$azpid'
AZURE_STORAGE_ACCOUNT='$AZ_ACCOUNT'
AZURE_STORAGE_KEY='$AZ_KEY'
WSKX_TEST_S3_URL='s3://wskx-test?endpoint=http://127.0.0.1:$s3port&use_path_style=true&region=us-east-1'
WSKX_TEST_S3_PID='$s3pid'
AWS_ACCESS_KEY_ID='$s3key'
AWS_SECRET_ACCESS_KEY='$s3secret'
AWS_REGION='us-east-1'
WSKX_TEST_GCS_URL='gs://wskx-test'
WSKX_TEST_GCS_PID='$gcspid'
STORAGE_EMULATOR_HOST='127.0.0.1:$gcsport'
EOF
  if ! { wait_port "$azport" azurite && wait_port "$s3port" versitygw && wait_port "$gcsport" fake-gcs-server; }; then
    for f in "$root"/*.log; do log "$(basename "$f"): $(tail -n 5 "$f")"; done
    stop "$envfile"
    return 1
  fi
  log "started (env file $envfile)"
}

stop() {
  local envfile="${1:-$CACHE/blobservers.env}"
  [[ -f "$envfile" ]] || { log "no env file $envfile: nothing to stop"; return 0; }
  local pids root
  pids=$(sed -n "s/^WSKX_BLOBSERVERS_PIDS='\(.*\)'$/\1/p" "$envfile")
  root=$(sed -n "s/^WSKX_BLOBSERVERS_ROOT='\(.*\)'$/\1/p" "$envfile")
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
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
