#!/bin/sh
# make demo: start the example shop service, attach to it with peeka-rec for
# a few seconds, then show what peeka-analyze makes of the recording.
# usage: examples/demo.sh [BUILD_DIR]
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/$build/bin"
out="$root/$build/demo"
py=${PYTHON:-python3}
mkdir -p "$out"
archive="$out/shop.tar.zst"
rm -f "$archive" "$archive.partial"

set -- --probe 'watch shop.worker.checkout' --probe 'watch shop.cart.Cart.*' \
       --probe 'watch shop.payments.charge' --probe 'watch shop.payments.authorize' \
       --probe 'watch shop.catalog.Catalog.tax_rate'

echo "== starting the example service: $py examples/shop/app.py"
"$py" "$root/examples/shop/app.py" --ready > "$out/service.log" 2>&1 &
svc=$!
trap 'kill $svc 2>/dev/null || true' EXIT INT TERM
# Attach once the service says it is in its steady state, not after a guess:
# on a fresh clone it may still be compiling its modules for a while.
waited=0
until grep -qx ready "$out/service.log" 2>/dev/null; do
    if ! kill -0 $svc 2>/dev/null; then
        echo "the example service exited before it was ready:" >&2
        cat "$out/service.log" >&2
        exit 1
    fi
    [ $waited -lt 300 ] || { echo "the example service was not ready after 30 s" >&2; exit 1; }
    sleep 0.1
    waited=$((waited + 1))
done

echo "== peeka-rec -p $svc -d 5s -o $archive (5 probes)"
rc=0
"$bin/peeka-rec" -p "$svc" -d 5s -o "$archive" "$@" || rc=$?
if [ $rc -eq 13 ]; then
    echo "   (ptrace is not permitted here; recording the service in launch mode instead)"
    kill $svc 2>/dev/null || true
    rc=0
    "$bin/peeka-rec" -q -o "$archive" "$@" -- "$py" "$root/examples/shop/app.py" --duration 5 >/dev/null || rc=$?
fi
[ $rc -eq 0 ] || { echo "peeka-rec failed with exit code $rc" >&2; exit $rc; }
kill $svc 2>/dev/null || true

echo
echo "== peeka-analyze $archive info"
"$bin/peeka-analyze" "$archive" info
echo
echo "== peeka-analyze $archive summary"
"$bin/peeka-analyze" "$archive" summary
echo
echo "== peeka-analyze $archive exceptions"
"$bin/peeka-analyze" "$archive" exceptions
echo
echo "The archive is a plain tar.zst:  tar --zstd -tf $archive"
echo "Try:  $bin/peeka-analyze $archive slowest --arg n=5"
