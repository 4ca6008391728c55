#!/bin/sh
# A CI step that fails the build when a function got slower than on the
# base branch.  It records the same workload on both commits in launch mode
# and lets `compare` decide (threshold 10%, Mann-Whitney U, min. 20 calls).
#   usage: perf-gate.sh BASE_REF   (run from the repository root)
set -eu
base=${1:-origin/main}
probes="--probe 'watch shop.worker.checkout' --probe 'watch shop.cart.Cart.*'"
record() {   # $1: output archive
    eval peeka-rec -q -o "$1" $probes -- python3 examples/shop/app.py --duration 10
}
git worktree add -f /tmp/base "$base"
(cd /tmp/base && record /tmp/base.tar.zst)
record /tmp/head.tar.zst
# exit 1 on a regression; the markdown table goes to the job summary
peeka-analyze /tmp/base.tar.zst /tmp/head.tar.zst compare --format markdown \
    | tee -a "${GITHUB_STEP_SUMMARY:-/dev/stdout}"
