"""Run the ALS job on the bundled synthetic sample through the real spark-submit and judge it.

    python -m spark_jobs.local.run_sample --output runs

Uses spark_jobs/sample_data/ (u.data, u.test, oracle.json; regenerated when missing or with
--regenerate), submits spark_jobs/als_job.py (which imports the package spark_jobs/als/ beside it) with
the spark-submit shipped in the pyspark package (spark_jobs/local/spark_submit.py), and streams the job's phase
lines as they happen (Spark's own log goes to a file).
Then prints RMSE against the bias baseline and the oracle floor, the ranking metrics against the
popularity baseline, and draws run.png beside metrics.json (spark_jobs/local/run_chart.py). Exits non-zero
when the job fails, when RMSE > 1.10 x oracle RMSE, or when RMSE does not beat the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spark_jobs.als.attempts import default_run_id
from spark_jobs.local.run_summary import ordered_phases, ranking_lines
from spark_jobs.local.spark_submit import JOB, SPARK_JOBS, job_arguments, submit
from spark_jobs.local.synthetic_ratings import generate, write_dataset

SAMPLE_DIR = SPARK_JOBS / "sample_data"
SAMPLE_FILES = ("u.data", "u.test", "oracle.json")
MAX_RATIO_TO_ORACLE = 1.10
CHART_NAME = "run.png"


def ensure_sample(sample_dir: Path, regenerate: bool = False) -> dict:
    """The sample's oracle.json, generating the sample first when asked or when a file is missing."""
    if regenerate or not all((sample_dir / name).exists() for name in SAMPLE_FILES):
        write_dataset(generate(), sample_dir)
    return json.loads((sample_dir / "oracle.json").read_text())


def acceptance_failures(metrics: dict, oracle: dict) -> list:
    """Why the run misses the bar (empty when it passes)."""
    rmse, baseline, floor = metrics["rmse"], metrics["baseline_rmse"], oracle["oracle_rmse"]
    failures = []
    if rmse is None:
        return ["no RMSE in metrics.json"]
    if rmse > MAX_RATIO_TO_ORACLE * floor:
        failures.append(f"RMSE {rmse:.4f} > {MAX_RATIO_TO_ORACLE} x oracle RMSE {floor:.4f}")
    if rmse >= baseline:
        failures.append(f"RMSE {rmse:.4f} does not beat the bias baseline {baseline:.4f}")
    return failures


def summary_table(metrics: dict, oracle: dict) -> str:
    floor = oracle["oracle_rmse"]
    params = metrics["params"]
    rows = [
        ("test RMSE (ALS)", f"{metrics['rmse']:.4f}"),
        ("bias-baseline RMSE", f"{metrics['baseline_rmse']:.4f}"),
        ("oracle RMSE (floor)", f"{floor:.4f}"),
        ("RMSE / oracle", f"{metrics['rmse'] / floor:.3f}  (must be <= {MAX_RATIO_TO_ORACLE:.2f})"),
        ("test MAE (ALS / baseline)", f"{metrics['mae']:.4f} / {metrics['baseline_mae']:.4f}"),
    ]
    rows += [
        ("train / test rows", f"{metrics['split']['train_rows']} / {metrics['split']['test_rows']}"),
        (
            "model / rank / regParam / maxIter",
            f"{params['model']} / {params['rank']} / {params['reg_param']:g} / {params['max_iter']}",
        ),
    ]
    ranking_model = params.get("ranking") or {}
    if ranking_model.get("lists_from") == "ranking":
        rows.append(
            (
                "ranking model rank / regParam / alpha",
                f"{ranking_model['rank']} / {ranking_model['reg_param']:g} / {ranking_model['alpha']:g}",
            )
        )
    if metrics.get("tuning"):
        tuning = metrics["tuning"]
        searched = [f"ranks {tuning['ranks']}", f"regParams {tuning['reg_params']}"]
        if tuning.get("models"):
            searched.insert(0, f"models {', '.join(tuning['models'])}")
        rows.append(("tuned over", " x ".join(searched)))
    phases = metrics["phase_seconds"]
    ordered = ordered_phases(phases)
    rows += [(f"  {phase} (s)", f"{phases[phase]:.1f}") for phase in ordered]
    rows.append(("job wall time (s)", f"{metrics['wall_seconds']:.1f}"))
    width = max(len(label) for label, _ in rows)
    return "\n".join([*(f"{label:<{width}}  {value}" for label, value in rows), *ranking_lines(metrics)])


def draw_chart(metrics: dict, oracle: dict, run_dir: Path) -> Path | None:
    """run.png beside metrics.json; None (with a note) when matplotlib, a development dependency, is missing."""
    try:
        from spark_jobs.local.run_chart import write_chart
    except ImportError as missing:
        print(f"run_sample: no chart ({missing}); `make setup` installs matplotlib", file=sys.stderr)
        return None
    return write_chart(metrics, run_dir / CHART_NAME, oracle["oracle_rmse"])


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="output root (local); the run writes <output>/<run-id>/")
    parser.add_argument("--run-id", default=None, help="default: UTC time + random suffix")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
    parser.add_argument("--regenerate", action="store_true", help="rewrite the sample from the generator")
    parser.add_argument("--tune", action="store_true", help="let the job grid-search rank x regParam first")
    args = parser.parse_args(argv)

    oracle = ensure_sample(args.sample_dir, args.regenerate)
    run_id = args.run_id or default_run_id()
    output = Path(args.output)
    log_path = output / f"{run_id}.spark-submit.log"
    job_args = job_arguments(
        ratings=args.sample_dir / "u.data",
        test_ratings=args.sample_dir / "u.test",
        format="udata",
        output=output,
        run_id=run_id,
        tune=args.tune,
    )
    print(
        f"run_sample: spark-submit {JOB.name} on {args.sample_dir} ({args.master}); Spark's log: {log_path}", flush=True
    )
    code = submit(job_args, log_path, args.master)
    if code != 0:
        print(f"run_sample: the job failed (exit {code}); Spark log: {log_path}", file=sys.stderr)
        print("".join(log_path.read_text().splitlines(keepends=True)[-30:]), file=sys.stderr)
        return code

    run_dir = output / run_id
    metrics = json.loads((run_dir / "metrics.json").read_text())
    print(f"\nrun {run_id} -> {run_dir}  (Spark {metrics['spark_version']}, log {log_path})")
    print(summary_table(metrics, oracle))
    chart = draw_chart(metrics, oracle, run_dir)
    if chart is not None:
        print(f"chart: {chart}")
    failures = acceptance_failures(metrics, oracle)
    for failure in failures:
        print(f"run_sample: FAIL: {failure}", file=sys.stderr)
    if not failures:
        print("PASS: RMSE within 10% of the oracle floor and below the bias baseline")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
