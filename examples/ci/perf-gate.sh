#!/bin/sh
# A CI step that fails the build when a function got slower than on the
# base branch.  It records the same workload RUNS times on each commit in
# launch mode and lets `compare` decide on the per-run medians (>= 10%
# slower, Welch's t test p < 0.05, see README "Performance gates in CI").
# One recording per side cannot tell a regression from a slow run.
#   usage: perf-gate.sh BASE_REF [RUNS]   (run from the repository root)
# On a shared runner whose speed swings between runs: REFERENCE='GLOB'
# names functions the change does not touch (each run is divided by
# them) and STAT=min judges each run's fastest call, which other
# processes cannot make faster.
set -eu
base=${1:-origin/main}
runs=${2:-3}
out=${PEEKA_OUT:-/tmp/peeka-perf}
record() {   # $1: checkout, $2: output archive
    (cd "$1" && peeka-rec -q -o "$2" --probe 'watch shop.worker.checkout' --probe 'watch shop.cart.Cart.*' \
        --probe 'watch shop.catalog.*' -- python3 examples/shop/app.py --duration 5)
}
mkdir -p "$out"
git worktree add -f "$out/base-src" "$base"
i=1
while [ "$i" -le "$runs" ]; do   # alternate, so a slow spell of the runner hits both sides
    record "$out/base-src" "$out/base-$i.tar.zst"
    record . "$out/head-$i.tar.zst"
    i=$((i + 1))
done
set -- "$out"/base-*.tar.zst "$out"/head-*.tar.zst
ref="${REFERENCE:+--arg reference=$REFERENCE} ${STAT:+--arg stat=$STAT}"
# exit 1 on a regression (not hidden behind a pipe); the markdown report
# goes to the job summary
rc=0
peeka-analyze "$@" compare --arg base="$runs" $ref --format markdown > "$out/compare.md" || rc=$?
cat "$out/compare.md" >> "${GITHUB_STEP_SUMMARY:-/dev/stdout}"
git worktree remove --force "$out/base-src"
exit "$rc"
