#!/usr/bin/env bash
# Takes the first line of a job file (under a lock) and runs it, until the file is empty:
# two workers side by side share one queue that can be edited while they run.
#   bash worker.sh /path/to/jobs.txt
jobs=$1
while true; do
  job=$(flock "$jobs.lock" bash -c 'head -n 1 "$0"; sed -i 1d "$0"' "$jobs")
  [ -z "$job" ] && break
  echo "-- $(date -u +%FT%TZ) $job"
  bash -c "$job"
done
