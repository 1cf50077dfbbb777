"""The ALS batch job: validate ratings, fit biases and ALS, a ranking model, evaluate, recommend, promote the run.

Standard library + pyspark only, Python 3.9 compatible (EMR 7.x nodes run Python 3.9). The modules import
each other relatively, so the package works as ``spark_jobs.als`` (tests, tools) and as a top-level ``als``
(shipped). spark-submit runs the entry script spark_jobs/als_job.py, which calls ``job.main``; on EMR and
the workstation the package travels beside it as a zip whose root holds ``als/``:

    spark-submit --py-files als.zip als_job.py --ratings s3://bucket/ml-100k/u.data --output s3://bucket/runs

Modules, in the order a run uses them:
  arguments        the command line: every flag, its default, the checks between flags
  config           JobConfig, the run's settings: built once from the command line, read by every phase
  ratings          reading, validation, de-duplication and the train/test split, in one Spark action
  titles           --items: item titles, and one sample user's list beside their highest-rated items
  tuning           --tune: the coarse-to-fine search of model x rank x regParam on a hold-out of the training
                   ratings by RMSE, and of the ranking model's rank x regParam x alpha by NDCG
  model            the bias baseline, ALS on its residual and on the raw ratings, their blend, as one ALSModel
  ranking          the ranking model the lists come from: Spark's implicit ALS on rating - 2
  evaluation       RMSE/MAE beside the bias baseline; ranking metrics, coverage and long-tail share beside a
                   popularity recommender
  recommendations  each user's top-N unrated items, for every user or the --recommend-users list, as Parquet
  attempts         run ids, attempt folders (removed when an attempt fails), the claim, the promotion to
                   <output>/<run-id>
  job              run(): the phases top to bottom (one line each), metrics.json, the promotion; main(argv)
                   with the exit codes
  hadoop_files     files through the Hadoop FileSystem API (local, hdfs://, s3://)
  spark_helpers    the session's JVM view, the one row of an aggregation, CachedFrames (DataFrames cached
                   for a with block), settings scoped to a block

Output, under <output>/<run-id>/, promoted from <output>/_attempts/<run-id>/<attempt>/ on success:
  model/            ALSModel (blend: 2 x rank + 2, plain and biased factors side by side; biased: rank + 2,
                    the last two columns carry the biases; plain: rank)
  ranking_model/    ALSModel: the ranking model (explicit ratings, --lists ranking: the default)
  recommendations/  Parquet: user, rank, item, score (top-N items per user, none rated in training; from the
                    ranking model unless --lists rating)
  metrics.json      counts, parameters, RMSE/MAE vs the bias baseline, ranking metrics vs popularity
  _SUCCESS          written last: the run's commit marker

Exit codes: 0 success; 2 unusable input; 3 the run id is already complete (never overwritten);
4 another attempt of the same run id completed or is promoting it (this attempt's output is dropped).
"""

from __future__ import annotations
