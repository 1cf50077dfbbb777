"""spark_jobs/local/run_sample.py: the real spark-submit path, and the acceptance rule."""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from spark_jobs.local import run_sample
from spark_jobs.local.spark_submit import job_arguments, submit, write_package_zip
from spark_jobs.local.synthetic_ratings import SyntheticSpec, generate, write_dataset

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names)


SHIPPED = [ROOT / "spark_jobs" / "als_job.py", *sorted((ROOT / "spark_jobs" / "als").glob("*.py"))]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(ROOT / "spark_jobs").as_posix())
def test_what_the_job_ships_imports_only_the_standard_library_pyspark_and_itself(path):
    """EMR nodes and the workstation have Python and pyspark, nothing else: no numpy, no project modules."""
    tree = ast.parse(path.read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported - STDLIB - {"__future__", "pyspark", "als"} == set()


def test_the_package_zip_holds_every_module_under_als_and_no_bytecode(tmp_path):
    archive = zipfile.ZipFile(write_package_zip(tmp_path / "als.zip"))
    expected = {f"als/{path.name}" for path in SHIPPED[1:]}
    assert set(archive.namelist()) == expected and "als/job.py" in expected


def test_spark_submit_runs_the_shipped_job_away_from_the_project_and_streams_its_phase_lines(
    tmp_path, monkeypatch, one_run_jvm
):
    """What EMR and the workstation get: the entry script and the package zip (--py-files), in a folder of their
    own with no spark_jobs/ beside them. Submit those, as the step does, and read the output.

    Its phase lines must reach us while it runs, not all at exit: the time between the first phase
    line and the final summary line covers the later phases' reported durations.
    """
    shipped = tmp_path / "shipped"
    entry = shipped / "als_job.py"
    shipped.mkdir()
    shutil.copy(ROOT / "spark_jobs" / "als_job.py", entry)
    package = write_package_zip(shipped / "als.zip")
    data = tmp_path / "data"
    write_dataset(generate(SyntheticSpec(users=60, items=150, ratings=2_000, seed=5)), data)
    # Named with every kind of character Hadoop or a shell could misread, as uploads are (test_upload_keys.py), and
    # compressed: spark-submit's launcher must hand the name to the job as it is.
    ratings = data / "2026-11-25T10:00:00Z" / "ünï cødé #1 100% [a]{b}*?.data.gz"
    ratings.parent.mkdir()
    ratings.write_bytes(gzip.compress((data / "u.data").read_bytes()))
    args = job_arguments(
        ratings=ratings,
        test_ratings=data / "u.test",
        output=tmp_path / "runs",
        run_id="lone",
        model="biased",  # what is shipped and how it streams; the models are tested in test_als_job.py
        max_iter=2,
        ranking_max_iter=2,
        top_n=2,
    )
    arrivals: list = []
    for name, value in one_run_jvm.items():  # submit() hands spark-submit this process's environment
        monkeypatch.setenv(name, value)
    code = submit(
        args,
        tmp_path / "spark.log",
        "local[2]",
        entry,
        lambda line, when: arrivals.append((line, when)),
        py_files=package,
    )
    assert code == 0, (tmp_path / "spark.log").read_text()[-3000:]
    metrics = json.loads((tmp_path / "runs" / "lone" / "metrics.json").read_text())
    assert metrics["input_rows"] == metrics["split"]["train_rows"] > 0
    assert metrics["input"]["uri"] == str(ratings) and metrics["input"]["format"] == "udata"
    assert (tmp_path / "runs" / "lone" / "_SUCCESS").exists()

    lines = [line for line, _ in arrivals]
    phases = [line.split()[1] for line in lines if line.startswith("phase ")]
    assert phases == ["load_validate", "train", "train_ranking", "evaluate", "recommend", "rank_evaluate", "save_model"]
    assert sorted(phases) == sorted(metrics["phase_seconds"])
    assert json.loads(lines[-1])["run_id"] == "lone"
    first_phase = next(when for line, when in arrivals if line.startswith("phase load_validate"))
    later = sum(seconds for name, seconds in metrics["phase_seconds"].items() if name != "load_validate")
    assert later > 1.0
    assert arrivals[-1][1] - first_phase > 0.5 * later, "phase lines arrived together at exit"
    (tmp_path / "lone-metrics.json").write_text(json.dumps(metrics))


def test_the_run_chart_is_a_png_with_a_panel_per_part_of_the_run(tmp_path):
    from PIL import Image

    metrics = _chart_metrics()
    plain = run_sample.draw_chart({**metrics, "ranking": None}, {"oracle_rmse": 0.82}, tmp_path / "plain")
    tuned_metrics = {
        **metrics,
        "tuning": {
            "ranks": [5, 10],
            "reg_params": [0.1, 1.0],
            "best_params": {"rank": 10, "reg_param": 0.1},
            "grid": [
                {"rank": r, "reg_param": g, "validation_rmse": 0.9 + r / 100 + g / 10}
                for r in (5, 10)
                for g in (0.1, 1.0)
            ],
        },
    }
    tuned = run_sample.draw_chart(tuned_metrics, {"oracle_rmse": 0.82}, tmp_path / "tuned")
    assert plain == tmp_path / "plain" / "run.png" and tuned is not None
    for path in (plain, tuned):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain_size, tuned_size = Image.open(plain).size, Image.open(tuned).size
    assert plain_size[0] == tuned_size[0] and tuned_size[1] > plain_size[1]  # the grid adds a row of panels


def test_acceptance_needs_rmse_near_the_oracle_and_below_the_baseline():
    oracle = {"oracle_rmse": 0.8}
    assert run_sample.acceptance_failures({"rmse": 0.85, "baseline_rmse": 0.9}, oracle) == []
    too_far = run_sample.acceptance_failures({"rmse": 0.89, "baseline_rmse": 0.95}, oracle)
    assert too_far == ["RMSE 0.8900 > 1.1 x oracle RMSE 0.8000"]
    no_gain = run_sample.acceptance_failures({"rmse": 0.85, "baseline_rmse": 0.85}, oracle)
    assert no_gain == ["RMSE 0.8500 does not beat the bias baseline 0.8500"]


def _chart_metrics(**changes: object) -> dict:
    shape = {"coverage": 0.4, "items_recommended": 80, "long_tail_share": 0.01}
    metrics = {
        "run_id": "r2",
        "rmse": 0.9012,
        "baseline_rmse": 0.9345,
        "test_rows_evaluated": 100,
        "wall_seconds": 30.0,
        "params": {"model": "blend", "rank": 10, "reg_param": 0.1, "max_iter": 20, "biases": True},
        "ranking": {
            "n": 10,
            "users_evaluated": 90,
            "relevant": "held-out rating >= 4",
            "lists_from": "ranking",
            "model": {"precision_at_n": 0.18, "recall_at_n": 0.32, "ndcg_at_n": 0.3176, "map_at_n": 0.2, **shape},
            "popularity": {"precision_at_n": 0.08, "recall_at_n": 0.13, "ndcg_at_n": 0.1255, "map_at_n": 0.06, **shape},
        },
        "phase_seconds": {"load_validate": 3.0, "train": 10.0, "train_ranking": 6.5},
        "tuning": None,
    }
    return {**metrics, **changes}


@pytest.mark.parametrize("changes", [{}, {"ranking": None}, {"rmse": None}])
def test_the_chart_starts_bar_axes_at_zero_labels_every_bar_and_leaves_no_panel_empty(changes):
    from spark_jobs.local.run_chart import draw_figure

    figure = draw_figure(_chart_metrics(**changes), oracle_rmse=0.85)
    try:
        panels = figure.get_axes()
        assert panels and all(axes.has_data() for axes in panels)  # no empty cell
        for axes in panels:
            bars = [patch for container in axes.containers for patch in container]
            if not bars:
                continue
            horizontal = axes.get_title().startswith("phases")
            low = axes.get_xlim()[0] if horizontal else axes.get_ylim()[0]
            assert low == 0, axes.get_title()
            labels = [text.get_text() for text in axes.texts]
            assert len(labels) == len(bars), axes.get_title()
            values = [patch.get_width() if horizontal else patch.get_height() for patch in bars]
            assert all(
                label in {f"{value:.{digits}f}" for digits in (1, 3, 4)}
                for label, value in zip(labels, values, strict=True)
            )
        titles = [axes.get_title() for axes in panels]
        if changes.get("rmse", 1) is not None:
            rmse_panel = next(axes for axes in panels if axes.get_title().startswith("test RMSE"))
            assert {text.get_text() for text in rmse_panel.texts} == {"0.9012", "0.9345", "0.8500"}
        if changes.get("ranking", 1) is not None:
            ranking = next(axes for axes in panels if axes.get_title().startswith("top-10 lists"))
            assert {"0.318", "0.126"} <= {text.get_text() for text in ranking.texts}
            assert [text.get_text() for text in ranking.get_legend().get_texts()] == [
                "ALS (ranking model)",
                "popularity",
            ]
        assert len(titles) == len(panels)
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
