#!/bin/sh
# Lists the CPython interpreters that have development headers, one per
# minor version, as "TAG PATH" lines (TAG is cp38 ... cp314).  One agent is
# built per line.  PYTHONS="python3.12 /opt/py/bin/python3" overrides the search.
# With --all, every distinct interpreter is listed (the tests attach to each:
# Debian's python3.11 and pyenv's 3.11 share an agent but differ in layout).
set -u
here=$(dirname "$0")
# The supported range lives in common/pyversions.h.
min=$(sed -n 's/^#define PEEKA_PY_MINOR_MIN \([0-9]*\).*/\1/p' "$here/../common/pyversions.h")
max=$(sed -n 's/^#define PEEKA_PY_MINOR_MAX \([0-9]*\).*/\1/p' "$here/../common/pyversions.h")
all=0
[ "${1:-}" = "--all" ] && all=1

candidates() {
    if [ -n "${PYTHONS:-}" ]; then
        for p in $PYTHONS; do echo "$p"; done
        return
    fi
    v=$min
    while [ "$v" -le "$max" ]; do
        echo "/usr/bin/python3.$v"
        command -v "python3.$v" 2>/dev/null
        for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.$v*/bin/python3.$v; do echo "$d"; done
        # what ../shared/tools/sid-pythons leaves: a shared-libpython and a static build
        for d in /opt/cpython/3.$v/bin/python3.$v /opt/cpython/3.$v-static/bin/python3.$v; do echo "$d"; done
        v=$((v + 1))
    done
    command -v python3 2>/dev/null
}

seen=" "
for py in $(candidates); do
    # PYTHONS may name interpreters on PATH ("python3.12"), as make help says.
    case $py in */*) ;; *) py=$(command -v "$py" 2>/dev/null) || continue ;; esac
    [ -x "$py" ] || continue
    # A pyenv shim answers for versions it is not set to; ask the binary itself.
    line=$("$py" - "$min" "$max" <<'PY' 2>/dev/null
import sys, sysconfig, os
inc = sysconfig.get_paths().get("include") or ""
lo, hi = (int(x) for x in sys.argv[1:3])
if os.path.exists(os.path.join(inc, "Python.h")) and (3, lo) <= sys.version_info[:2] <= (3, hi):
    print("cp%d%d %s" % (sys.version_info[0], sys.version_info[1], os.path.realpath(sys.executable)))
PY
) || continue
    [ -n "$line" ] || continue
    tag=${line%% *}
    key=$tag
    [ $all = 1 ] && key=${line#* }
    case "$seen" in *" $key "*) continue ;; esac
    seen="$seen$key "
    echo "$line"
done
