#!/bin/sh
# Checks (and, as root with --install, installs) the Debian packages peeka
# needs; --tests adds what the test suite runs against (a real Flask app
# under gunicorn, gdb for the --via gdb route, chromium and npm for the
# viewer tests: tests/e2e/browser.py installs speedscope from npm into
# ~/.cache/peeka-tests on first use).  Without root it prints the exact apt-get command to run.
set -u
PKGS="build-essential pkg-config libarchive-dev libzstd-dev libcjson-dev liblua5.4-dev lua5.4 check python3-dev zstd jq"
install=""
for a in "$@"; do
    case $a in
    --install) install=1 ;;
    --tests) PKGS="$PKGS python3-flask gunicorn gdb chromium man-db zsh"
             # a nodejs from elsewhere brings its own npm (Debian's would conflict)
             command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm" ;;
    *) echo "usage: $0 [--install] [--tests]" >&2; exit 2 ;;
    esac
done

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ -n "$install" ] && [ "$(id -u)" = 0 ]; then
    echo "peeka: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && $cmd -qq; } >&2 || {
        echo "peeka: package installation failed; run: $cmd" >&2
        exit 1
    }
    exit 0
fi
echo "peeka: missing packages:$missing" >&2
echo "peeka: install them with:  sudo $cmd" >&2
exit 1
