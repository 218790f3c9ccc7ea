#!/usr/bin/env bash
# Install (or remove) Portcullis on a device as a systemd service.
#
# The package is built BEFORE this script runs, on a build host with the same
# CPU architecture as the device (node_modules holds native binaries):
#
#   npm install && npm run build
#   npm prune --omit=dev             # optional: drop vitest, typescript, ...
#   copy the whole tree to the device (scp/rsync/tarball), then on the device:
#   sudo ./systemd/install.sh
#
# The script installs the tree it lives in (its parent directory). If that
# tree has no node_modules, it runs `npm install --omit=dev` in the installed copy
# (needs the npm registry); dist/ must already be built either way.
#
# What it does:
#   - system user and group "portcullis" (no login shell, no home directory)
#   - /opt/portcullis                 the program (replaced on every install)
#   - /usr/bin/portcullis          -> /opt/portcullis/bin/portcullis.js
#   - /etc/portcullis/gateway.yaml    from config/gateway.yaml, only if absent:
#                                     an operator's config is never overwritten
#   - /var/lib/portcullis             state directory (0700, portcullis)
#   - /etc/systemd/system/portcullis.service, then systemctl daemon-reload
# It never enables, starts or restarts the service; it prints how to.
#
# Usage: install.sh [--root DIR] [--uninstall | --purge]
#   --root DIR    install under DIR instead of / (also: DESTDIR=DIR). Nothing
#                 outside DIR is touched: useradd/chown/systemctl are skipped
#                 and printed as "would run: ...". Root is not required.
#   --uninstall   stop and disable the service, remove the unit, the program
#                 and the symlink; keep config, state (users, keys,
#                 certificates) and the user
#   --purge       --uninstall, and also remove config, state, logs and user
set -euo pipefail
umask 022

readonly NAME=portcullis
readonly PREFIX=/opt/portcullis
readonly BIN_LINK=/usr/bin/portcullis
readonly BIN_TARGET=$PREFIX/bin/portcullis.js
readonly CONF_DIR=/etc/portcullis
readonly CONF=$CONF_DIR/gateway.yaml
readonly STATE_DIR=/var/lib/portcullis
readonly LOG_DIR=/var/log/portcullis
readonly UNIT_DIR=/etc/systemd/system
readonly UNIT=$UNIT_DIR/portcullis.service
readonly ENV_FILE=/etc/default/portcullis
# Keep in step with "engines" in package.json.
readonly NODE_MIN_MAJOR=20 NODE_MIN_MINOR=11

die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
say() { printf '%s\n' "$*"; }

usage() { sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

root=${DESTDIR:-}
mode=install
while [ $# -gt 0 ]; do
  case $1 in
    --root) { [ $# -ge 2 ] && [ -n "$2" ]; } || die "--root needs a directory"; root=$2; shift 2 ;;
    --root=*) root=${1#--root=}; [ -n "$root" ] || die "--root needs a directory"; shift ;;
    --uninstall) mode=uninstall; shift ;;
    --purge) mode=purge; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

# staged=1: everything goes below $root and the live system is left alone.
staged=0
if [ -n "$root" ]; then
  err=$(mkdir -p -- "$root" 2>&1) || die "cannot create --root directory $root: ${err##*: }"
  root=$(cd -- "$root" && pwd -P)
  [ "$root" != / ] || die "--root / is the live system: run without --root"
  staged=1
elif [ "$(id -u)" -ne 0 ]; then
  die "must be run as root (try: sudo $0), or stage into a directory with --root DIR"
fi

# run CMD...: on the live system, run it; when staged, only say what it would do.
run() {
  local shown
  if [ "$staged" = 1 ]; then
    printf -v shown '%q ' "$@"
    say "would run: ${shown% }"
  else
    "$@"
  fi
}

systemd_running() { [ "$staged" = 0 ] && [ -d /run/systemd/system ]; }

check_node() {
  local node ver major minor rest dir
  node=$(command -v node) || die "node not found in PATH: install Node.js $NODE_MIN_MAJOR.$NODE_MIN_MINOR or later"
  ver=$("$node" -p process.versions.node 2>/dev/null) || die "cannot run $node"
  IFS=. read -r major minor rest <<<"$ver"
  if ! [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] \
    || [ "$major" -lt "$NODE_MIN_MAJOR" ] \
    || { [ "$major" -eq "$NODE_MIN_MAJOR" ] && [ "$minor" -lt "$NODE_MIN_MINOR" ]; }; then
    die "Node.js $NODE_MIN_MAJOR.$NODE_MIN_MINOR or later required, found v$ver at $node"
  fi
  # The service finds node through bin/portcullis.js's "#!/usr/bin/env node"
  # with systemd's default PATH, and cannot see /home or /root (ProtectHome=).
  dir=$(dirname -- "$node")
  case $dir in
    /usr/local/sbin | /usr/local/bin | /usr/sbin | /usr/bin | /sbin | /bin) ;;
    *) warn "node is at $node, outside systemd's PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin): the service will not find it; install Node.js system-wide or link it into /usr/local/bin" ;;
  esac
  case $(readlink -f -- "$node") in
    /home/* | /root/*) warn "node resolves to $(readlink -f -- "$node"), under /home or /root, which the service cannot read (ProtectHome=yes)" ;;
  esac
}

# The package tree this script belongs to.
src=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)

check_source() {
  local f
  for f in package.json bin/portcullis.js config/gateway.yaml systemd/portcullis.service; do
    [ -f "$src/$f" ] || die "$src/$f is missing: run this script from a complete Portcullis tree"
  done
  [ -d "$src/dist" ] || die "$src/dist is missing: build first (npm install && npm run build on the build host)"
  [ "$(head -c 2 -- "$src/bin/portcullis.js")" = '#!' ] \
    || die "$src/bin/portcullis.js has no #! line, so it cannot run as $BIN_LINK"
}

create_user() {
  local nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/sbin/nologin
  [ -x "$nologin" ] || nologin=/bin/false
  if [ "$staged" = 0 ]; then
    command -v useradd >/dev/null || die "useradd not found (Debian package: passwd)"
  fi
  if [ "$staged" = 1 ] || ! getent group "$NAME" >/dev/null; then
    run groupadd --system "$NAME"
  fi
  if [ "$staged" = 1 ] || ! getent passwd "$NAME" >/dev/null; then
    run useradd --system --gid "$NAME" --no-create-home --home-dir /nonexistent \
      --shell "$nologin" --comment "Portcullis API gateway" "$NAME"
  fi
}

# Copy $src to $root$PREFIX through a sibling staging directory, so that a
# failed copy or npm install leaves the installed version untouched.
# Production dependencies, in the current directory. `npm install` rather
# than `npm ci`: the lock file records only the optional native packages the
# build host could fetch, and npm ci refuses a lock that lacks the others.
# The root postinstall only applies the uWS glibc patch (dist/ is shipped
# built), so it is safe without the dev dependencies.
npm_install_production() {
  npm install --omit=dev --no-audit --no-fund
}

stage='' old=''   # global: the EXIT trap below needs them after a die
install_program() {
  local dest=$root$PREFIX
  if [ "$src" = "$(readlink -f -- "$dest" 2>/dev/null || true)" ]; then
    say "program: $src is already $dest"
    return
  fi
  mkdir -p -- "$(dirname -- "$dest")"
  stage=$(mktemp -d "$dest.new.XXXXXX")
  old=$dest.old.$$
  trap 'rm -rf -- "$stage" "$old"' EXIT
  chmod 0755 "$stage"
  # Leave out the repository, local state (.portcullis holds a dev store and
  # keys) and test/dev-only files. Ownership and modes are not copied from the
  # build host: files become root-owned, 0644/0755.
  tar -C "$src" \
    --exclude=./.git --exclude=./.portcullis --exclude=./.ci --exclude=./coverage \
    --exclude=./test --exclude='*.cpuprofile' \
    --exclude=./node_modules/.cache --exclude=./node_modules/.vite \
    -cf - . | tar -C "$stage" --no-same-owner --no-same-permissions -xf -
  if [ ! -d "$stage/node_modules" ]; then
    say "node_modules absent: running npm install --omit=dev in $dest"
    command -v npm >/dev/null || die "npm not found: install it, or build node_modules on the build host"
    (cd -- "$stage" && npm_install_production) \
      || die "npm install --omit=dev failed in $stage (is the npm registry reachable?)"
  fi
  chmod 0755 "$stage/bin/portcullis.js"
  if [ -e "$dest" ] || [ -L "$dest" ]; then mv -- "$dest" "$old"; fi
  mv -- "$stage" "$dest"
  rm -rf -- "$old"
  trap - EXIT
  say "program: $dest"
}

# Checked before anything is changed.
check_link() {
  local link=$root$BIN_LINK
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    die "$link exists and is not a symlink: refusing to replace it"
  fi
}

install_link() {
  local link=$root$BIN_LINK cur
  if [ -L "$link" ]; then
    cur=$(readlink -- "$link")
    [ "$cur" = "$BIN_TARGET" ] || say "replacing $BIN_LINK (was -> $cur)"
  fi
  mkdir -p -- "$(dirname -- "$link")"
  ln -sfn -- "$BIN_TARGET" "$link"
  say "command: $BIN_LINK -> $BIN_TARGET"
}

install_config() {
  local conf=$root$CONF
  install -d -m 0755 -- "$root$CONF_DIR"
  if [ -e "$conf" ] || [ -L "$conf" ]; then
    say "config: kept existing $CONF (the shipped default is $PREFIX/config/gateway.yaml)"
    return
  fi
  # 0640 root:portcullis: the service reads it, may not change it, and other
  # users may not read tokens in it (control_plane.token, debug.token).
  install -m 0640 -- "$src/config/gateway.yaml" "$conf"
  run chown "root:$NAME" "$CONF"
  say "config: $CONF (default)"
}

install_state_dir() {
  # systemd creates it at start too (StateDirectory=); creating it now lets
  # the CLI add users and keys before the first start.
  if [ ! -d "$root$STATE_DIR" ]; then
    install -d -m 0700 -- "$root$STATE_DIR"
    run chown "$NAME:$NAME" "$STATE_DIR"
  fi
}

install_unit() {
  install -D -m 0644 -- "$src/systemd/portcullis.service" "$root$UNIT"
  say "unit: $UNIT"
  if systemd_running; then
    systemctl daemon-reload
  elif [ "$staged" = 1 ]; then
    run systemctl daemon-reload
  else
    say "systemd is not running here: skipped systemctl daemon-reload"
  fi
}

do_install() {
  local version
  check_source
  check_node
  check_link
  version=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).version)' "$src/package.json")
  say "Installing Portcullis $version from $src${root:+ into $root}"
  create_user
  install_program
  install_link
  install_config
  install_state_dir
  install_unit
  if systemd_running && systemctl is-active --quiet "$NAME"; then
    say ""
    say "The service is running the previous version: systemctl restart $NAME"
  fi
  cat <<EOF

Next steps:
  systemctl enable --now $NAME     start now and at every boot
  journalctl -u $NAME -f           logs; the {"event":"ready",...} line lists the ports
  Config: $CONF (then: systemctl reload $NAME)
  Environment overrides (PORTCULLIS_WORKERS=..., PORTCULLIS_ADD_ROUTE=...): $ENV_FILE
  Run CLI commands as the service user, on the service's state directory:
    sudo -u $NAME $NAME user add NAME --state-dir $STATE_DIR
EOF
}

do_uninstall() {
  local link=$root$BIN_LINK
  if systemd_running; then
    systemctl disable --now "$NAME" 2>/dev/null || true
  elif [ "$staged" = 1 ]; then
    run systemctl disable --now "$NAME"
  fi
  rm -f -- "$root$UNIT"
  say "removed $UNIT"
  if [ -L "$link" ] && [ "$(readlink -- "$link")" = "$BIN_TARGET" ]; then
    rm -f -- "$link"
    say "removed $BIN_LINK"
  elif [ -e "$link" ] || [ -L "$link" ]; then
    say "left $BIN_LINK alone: it does not point to $BIN_TARGET"
  fi
  rm -rf -- "$root$PREFIX"
  say "removed $PREFIX"
  if [ "$mode" = purge ]; then
    rm -rf -- "$root$CONF_DIR" "$root$STATE_DIR" "$root$LOG_DIR" "$root$ENV_FILE" "$root$UNIT_DIR/$NAME.service.d"
    say "removed $CONF_DIR $STATE_DIR $LOG_DIR $ENV_FILE $UNIT_DIR/$NAME.service.d"
    if [ "$staged" = 1 ] || getent passwd "$NAME" >/dev/null; then run userdel "$NAME"; fi
    if [ "$staged" = 1 ] || getent group "$NAME" >/dev/null; then run groupdel "$NAME"; fi
  else
    say "kept $CONF_DIR (config), $STATE_DIR (users, keys, certificates) and user $NAME; --purge removes them"
  fi
  if systemd_running || [ "$staged" = 1 ]; then run systemctl daemon-reload; fi
}

case $mode in
  install) do_install ;;
  uninstall | purge) do_uninstall ;;
esac
