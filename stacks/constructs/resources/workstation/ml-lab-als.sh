#!/bin/bash
# Usage: ml-lab-als RATINGS_KEY [job options]. Runs the ALS job on this machine, results to S3.
# Runs as whoever calls it (Session Manager's ssm-user, not root): everything it writes goes into a folder of its
# own under that user's $HOME/@USER_FOLDER@/, never into the folder setup writes as root.
set -euo pipefail
test -e @READY_MARKER@ || { echo "setup has not finished: journalctl -u ml-lab-setup" >&2; exit 1; }
test $# -ge 1 || { echo "usage: ml-lab-als RATINGS_KEY [job options], e.g. ml-lab-als @SAMPLE_KEY@" >&2; exit 2; }
home=${HOME:-$(getent passwd "$(id -un)" | cut -d: -f6)}
mkdir -p "$home/@USER_FOLDER@"
key=$1; shift; work=$(mktemp -d -p "$home/@USER_FOLDER@" run.XXXXXX); name=$(basename "$key")
echo "ml-lab-als: working in $work"
aws s3 cp --region @REGION@ @JOB_SCRIPT_URI@ "$work/@JOB_SCRIPT_NAME@"
aws s3 cp --region @REGION@ @JOB_PACKAGE_URI@ "$work/@JOB_PACKAGE_NAME@"
aws s3 cp --region @REGION@ "s3://@RATINGS_BUCKET@/$key" "$work/$name"
spark-submit --master "local[*]" --py-files "$work/@JOB_PACKAGE_NAME@" "$work/@JOB_SCRIPT_NAME@" \
  --ratings "$work/$name" --output "$work/runs" "$@"
aws s3 sync --region @REGION@ "$work/runs" s3://@RESULTS_BUCKET@/@RESULTS_RUNS_PREFIX@
