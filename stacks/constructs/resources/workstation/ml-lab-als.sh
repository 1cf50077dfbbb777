#!/bin/bash
# Usage: ml-lab-als RATINGS_KEY [job options]. Runs the ALS job on this machine, results to S3.
set -euo pipefail
test -e @READY_MARKER@ || { echo "setup has not finished: journalctl -u ml-lab-setup" >&2; exit 1; }
key=$1; shift; work=$(mktemp -d -p /var/tmp); name=$(basename "$key")
aws s3 cp --region @REGION@ @JOB_SCRIPT_URI@ @JOB_PATH@
aws s3 cp --region @REGION@ @JOB_PACKAGE_URI@ @JOB_PACKAGE_PATH@
aws s3 cp --region @REGION@ "s3://@RATINGS_BUCKET@/$key" "$work/$name"
spark-submit --master "local[*]" --py-files @JOB_PACKAGE_PATH@ @JOB_PATH@ --ratings "$work/$name" --output "$work/runs" "$@"
aws s3 sync --region @REGION@ "$work/runs" s3://@RESULTS_BUCKET@/@RESULTS_RUNS_PREFIX@
