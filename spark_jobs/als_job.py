"""ALS matrix factorisation batch job: the script spark-submit runs; the job itself is the package als/.

    spark-submit [--master local[2]] spark_jobs/als_job.py --ratings ml-100k/u.data --output runs
    spark-submit --py-files als.zip als_job.py --ratings s3://bucket/ml-100k/u.data --output s3://bucket/runs

Run as a script it imports the top-level package ``als``: found beside this file in a checkout (Python puts
the script's folder on sys.path), or in the zip --py-files ships (EMR, the workstation). Imported as
``spark_jobs.als_job`` it uses ``spark_jobs.als``. Flags, outputs and exit codes: spark_jobs/README.md.
"""

from __future__ import annotations

import sys

if __package__:  # imported as spark_jobs.als_job (tests, tools)
    from .als.job import main
else:  # run by spark-submit: als/ beside this file, or in the --py-files zip (mypy sees only the package)
    from als.job import main  # type: ignore[import-not-found,no-redef]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
