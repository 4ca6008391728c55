#!/bin/sh
# Records every worker of a prefork server (gunicorn, uWSGI, Celery prefork)
# over the same window: the master only supervises, the workers serve the
# requests, so recording the master alone records nothing (peeka-rec says
# so).  Each worker gets its own archive: put {pid} in -o.
#
# usage: peeka-workers.sh MASTER_PID PEEKA-REC-ARGUMENTS...
# exit:  0 when every worker's recording succeeded, else the highest of
#        peeka-rec's exit codes (4, a worker recycled mid-recording, still
#        leaves a complete archive); 10 when MASTER_PID has no workers.
set -u
PEEKA_REC=${PEEKA_REC:-/usr/local/bin/peeka-rec}
[ $# -ge 2 ] || { echo "usage: $0 MASTER_PID PEEKA-REC-ARGUMENTS..." >&2; exit 2; }
master=$1
shift
# the children of every thread of the master (no procps needed)
workers=$(cat /proc/"$master"/task/*/children 2>/dev/null)
[ -n "$workers" ] || { echo "peeka-workers: pid $master has no workers" >&2; exit 10; }
jobs=""
for w in $workers; do
    "$PEEKA_REC" -p "$w" "$@" &
    jobs="$jobs $!"
done
worst=0
for j in $jobs; do
    wait "$j"
    s=$?
    [ "$s" -gt "$worst" ] && worst=$s
done
exit "$worst"
