#!/usr/bin/env bash
# Installs the npm packages the Node.js tests use, at pinned versions, each
# into its own folder $WSKX_CACHE/npm/NAME@VERSION:
#   openwhisk-composer  the composer and its compose/deploy commands
#   openwhisk           the JavaScript client, which OpenWhisk's nodejs
#                       runtimes ship for actions to require('openwhisk')
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
NPM_DIR="$CACHE/npm"
ENV_FILE="$CACHE/npmtools.env"

log() { echo "npmtools: $*" >&2; }

# install_pkg NAME VERSION installs NAME@VERSION into $NPM_DIR/NAME@VERSION
# unless it is there; a temporary folder renamed at the end means a folder
# that exists is complete.
install_pkg() {
  local name=$1 version=$2
  local dest="$NPM_DIR/$name@$version"
  if [[ -f "$dest/node_modules/$name/package.json" ]]; then
    return 0
  fi
  log "installing $name@$version"
  mkdir -p "$NPM_DIR"
  local tmp
  tmp=$(mktemp -d "$NPM_DIR/.install-XXXXXX")
  # A package.json of its own keeps npm from climbing to a parent project.
  echo '{"name":"wskx-npmtools","private":true}' >"$tmp/package.json"
  if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error "$name@$version" >&2; then
    rm -rf "$tmp"
    log "npm install $name@$version failed"
    return 1
  fi
  local got
  got=$(node -p "require('$tmp/node_modules/$name/package.json').version")
  if [[ "$got" != "$version" ]]; then
    rm -rf "$tmp"
    log "npm installed $name@$got, not $version"
    return 1
  fi
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

env_lines() {
  echo "WSKX_NODE_PATH='$NPM_DIR/openwhisk@$OPENWHISK_VERSION/node_modules'"
  echo "WSKX_COMPOSER_HOME='$NPM_DIR/openwhisk-composer@$COMPOSER_VERSION/node_modules/openwhisk-composer'"
}

install() {
  command -v node >/dev/null || { log "node is not installed (apt-get install nodejs npm)"; return 1; }
  command -v npm >/dev/null || { log "npm is not installed (apt-get install npm)"; return 1; }
  install_pkg openwhisk "$OPENWHISK_VERSION"
  install_pkg openwhisk-composer "$COMPOSER_VERSION"
  mkdir -p "$CACHE"
  { echo "# written by scripts/npmtools.sh install"; env_lines; } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "openwhisk@$OPENWHISK_VERSION in $NPM_DIR/openwhisk@$OPENWHISK_VERSION"
  log "openwhisk-composer@$COMPOSER_VERSION in $NPM_DIR/openwhisk-composer@$COMPOSER_VERSION"
  log "variables in $ENV_FILE"
}

case "${1:-}" in
  install) install ;;
  env) env_lines ;;
  *) echo "usage: $0 install|env" >&2; exit 2 ;;
esac
