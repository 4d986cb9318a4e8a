#!/usr/bin/env bash
# Installs the npm packages the Node.js tests use, at pinned versions, into
# folders under $WSKX_CACHE/npm:
#   openwhisk-composer  the composer and its compose/deploy commands
#   openwhisk, redis, uuid, express, serialize-error
#                       what Apache's nodejs runtime preinstalls for actions
#                       to require (the JavaScript client among them; redis
#                       and uuid are what openwhisk-composer's parallel and
#                       map need), in one node_modules folder given to
#                       actions as NODE_PATH
#
#   scripts/npmtools.sh install   # once per machine; idempotent
#   scripts/npmtools.sh env       # print the variables the tests read
#
# install writes those variables to $WSKX_CACHE/npmtools.env as well:
#   WSKX_NODE_PATH       node_modules holding the openwhisk client: the
#                        built-in platform puts it on NODE_PATH for nodejs
#                        actions (wskx standalone --node-path)
#   WSKX_COMPOSER_HOME   the openwhisk-composer package (bin/compose.js,
#                        bin/deploy.js)
set -euo pipefail

CACHE="${WSKX_CACHE:-$HOME/.cache/wskx}"
COMPOSER_VERSION="0.12.0" # the latest 0.12.x
OPENWHISK_VERSION="3.21.9" # the latest 3.21.x; keep container.OpenWhiskNPMVersion in step
# The rest of what Apache's nodejs runtime preinstalls; keep
# container.RuntimeNodeModules in step. redis is 3.x, not the runtime's
# 4.x: composer's conductor.js uses the callback API that 4.x dropped.
RUNTIME_MODULES=("redis@3.1.2" "uuid@8.3.2" "express@4.20.0" "serialize-error@9.1.0")
NPM_DIR="$CACHE/npm"
RUNTIME_DIR="$NPM_DIR/runtime-openwhisk@$OPENWHISK_VERSION-$(printf '%s ' "${RUNTIME_MODULES[@]}" | sha256sum | cut -c1-8)"
ENV_FILE="$CACHE/npmtools.env"

log() { echo "npmtools: $*" >&2; }

# install_pkgs DEST NAME@VERSION... installs the packages together into
# DEST/node_modules unless they are there; a temporary folder renamed at
# the end means a folder that exists is complete.
install_pkgs() {
  local dest=$1
  shift
  local spec missing=
  for spec in "$@"; do
    [[ -f "$dest/node_modules/${spec%@*}/package.json" ]] || missing=1
  done
  [[ -z "$missing" ]] && return 0
  log "installing $*"
  mkdir -p "$NPM_DIR"
  local tmp
  tmp=$(mktemp -d "$NPM_DIR/.install-XXXXXX")
  # A package.json of its own keeps npm from climbing to a parent project.
  echo '{"name":"wskx-npmtools","private":true}' >"$tmp/package.json"
  if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error "$@" >&2; then
    rm -rf "$tmp"
    log "npm install $* failed"
    return 1
  fi
  local got
  for spec in "$@"; do
    got=$(node -p "require('$tmp/node_modules/${spec%@*}/package.json').version")
    if [[ "$got" != "${spec##*@}" ]]; then
      rm -rf "$tmp"
      log "npm installed ${spec%@*}@$got, not $spec"
      return 1
    fi
  done
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

env_lines() {
  echo "WSKX_NODE_PATH='$RUNTIME_DIR/node_modules'"
  echo "WSKX_COMPOSER_HOME='$NPM_DIR/openwhisk-composer@$COMPOSER_VERSION/node_modules/openwhisk-composer'"
}

install() {
  command -v node >/dev/null || { log "node is not installed (apt-get install nodejs npm)"; return 1; }
  command -v npm >/dev/null || { log "npm is not installed (apt-get install npm)"; return 1; }
  install_pkgs "$RUNTIME_DIR" "openwhisk@$OPENWHISK_VERSION" "${RUNTIME_MODULES[@]}"
  install_pkgs "$NPM_DIR/openwhisk-composer@$COMPOSER_VERSION" "openwhisk-composer@$COMPOSER_VERSION"
  mkdir -p "$CACHE"
  { echo "# written by scripts/npmtools.sh install"; env_lines; } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "openwhisk@$OPENWHISK_VERSION ${RUNTIME_MODULES[*]} in $RUNTIME_DIR"
  log "openwhisk-composer@$COMPOSER_VERSION in $NPM_DIR/openwhisk-composer@$COMPOSER_VERSION"
  log "variables in $ENV_FILE"
}

case "${1:-}" in
  install) install ;;
  env) env_lines ;;
  *) echo "usage: $0 install|env" >&2; exit 2 ;;
esac
