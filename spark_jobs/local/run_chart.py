"""A one-page PNG of an ALS run: RMSE beside its baselines, the lists' metrics beside popularity, the tuning grid,
phase times; every bar carries its number and every bar axis starts at 0.

    python -m spark_jobs.local.run_chart runs/<run-id>/metrics.json [--oracle spark_jobs/sample_data/oracle.json]

Development tooling only (matplotlib is in requirements-dev.txt): the job on EMR never imports it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or a headless workstation

import matplotlib.pyplot as plt

from spark_jobs.local.run_summary import ordered_phases

RANKING_LABELS = {
    "precision_at_n": "precision",
    "recall_at_n": "recall",
    "ndcg_at_n": "NDCG",
    "map_at_n": "MAP",
    "coverage": "coverage",
}


def _label_bars(axes: Any, bars: Any, values: list, digits: int) -> None:
    """Each bar's value written above it."""
    axes.bar_label(bars, labels=[f"{value:.{digits}f}" for value in values], fontsize=7, padding=2)


def _rmse_panel(axes: Any, metrics: dict, oracle_rmse: float | None) -> None:
    bars = [("ALS", metrics["rmse"], "tab:blue"), ("bias baseline", metrics["baseline_rmse"], "tab:gray")]
    if oracle_rmse is not None:
        bars.append(("oracle floor", oracle_rmse, "tab:green"))
    names, values, colours = [bar[0] for bar in bars], [bar[1] for bar in bars], [bar[2] for bar in bars]
    _label_bars(axes, axes.bar(names, values, color=colours), values, 4)
    axes.set_ylim(0, max(values) * 1.15)  # from 0: the gap between bars is as large as it looks
    axes.set_title(f"test RMSE ({metrics['test_rows_evaluated']} ratings)", fontsize=10)


def _ranking_panel(axes: Any, ranking: dict) -> None:
    keys = list(RANKING_LABELS)
    width = 0.4
    lists_from = ranking.get("lists_from")
    model_name = f"ALS ({lists_from} model)" if lists_from else "ALS"
    for offset, (name, label, colour) in enumerate(
        (("model", model_name, "tab:blue"), ("popularity", "popularity", "tab:orange"))
    ):
        positions = [index + (offset - 0.5) * width for index in range(len(keys)) if keys[index] in ranking[name]]
        values = [ranking[name][key] for key in keys if key in ranking[name]]
        _label_bars(axes, axes.bar(positions, values, width, label=label, color=colour), values, 3)
    axes.set_xticks(range(len(keys)), [RANKING_LABELS[key] for key in keys])
    # Headroom above the tallest bar for its number and the one-row legend.
    axes.set_ylim(0, max(1e-9, *(ranking[name].get(key, 0) for name in ("model", "popularity") for key in keys)) * 1.4)
    axes.legend(fontsize=8, loc="upper left", ncol=2)
    axes.set_title(f"top-{ranking['n']} lists ({ranking['users_evaluated']} users; {ranking['relevant']})", fontsize=10)


def _tuning_panel(axes: Any, tuning: dict) -> None:
    ranks, reg_params, best = tuning["ranks"], tuning["reg_params"], tuning["best_params"]
    chosen = best.get("model")  # the grid of the chosen model (a grid whose entries name no model has one)
    grid = {
        (entry["rank"], entry["reg_param"]): entry["validation_rmse"]
        for entry in tuning["grid"]
        if entry.get("model") == chosen
    }
    values = [[grid.get((rank, reg), float("nan")) for reg in reg_params] for rank in ranks]
    image = axes.imshow(values, cmap="viridis_r", aspect="auto")
    axes.set_xticks(range(len(reg_params)), [f"{reg:g}" for reg in reg_params])
    axes.set_yticks(range(len(ranks)), [str(rank) for rank in ranks])
    axes.set_xlabel("regParam")
    axes.set_ylabel("rank")
    axes.scatter([reg_params.index(best["reg_param"])], [ranks.index(best["rank"])], marker="*", color="red", s=120)
    plt.colorbar(image, ax=axes, label="validation RMSE")
    axes.set_title(f"tuning grid{f', {chosen} model' if chosen else ''} (star: chosen)", fontsize=10)


def _phase_panel(axes: Any, metrics: dict) -> None:
    phases = metrics["phase_seconds"]  # metrics.json sorts its keys: back to the order they ran in
    names = ordered_phases(phases)
    seconds = [phases[name] for name in names]
    _label_bars(axes, axes.barh(names, seconds, color="tab:purple"), seconds, 1)
    axes.set_xlim(0, max(seconds, default=1.0) * 1.2)
    axes.invert_yaxis()
    axes.set_xlabel("seconds")
    axes.set_title(f"phases (job {metrics['wall_seconds']:.0f} s)", fontsize=10)


def draw_figure(metrics: dict, oracle_rmse: float | None = None) -> Any:
    """The run's figure: a panel per part of the run that metrics.json holds, two columns; with an odd number of
    panels the last spans both columns, so no cell is left empty."""
    panels: list[Callable[[Any], None]] = []
    if metrics.get("rmse") is not None:
        panels.append(lambda axes: _rmse_panel(axes, metrics, oracle_rmse))
    if metrics.get("ranking"):
        panels.append(lambda axes: _ranking_panel(axes, metrics["ranking"]))
    if metrics.get("tuning"):
        panels.append(lambda axes: _tuning_panel(axes, metrics["tuning"]))
    panels.append(lambda axes: _phase_panel(axes, metrics))
    columns = 2 if len(panels) > 1 else 1
    rows = (len(panels) + columns - 1) // columns
    layout: Any = [[f"{row * columns + column}" for column in range(columns)] for row in range(rows)]
    if len(panels) % columns:
        layout[-1] = [str(len(panels) - 1)] * columns
    figure = plt.figure(figsize=(5.5 * columns, 3.6 * rows))
    cells = figure.subplot_mosaic(layout)
    for index, draw in enumerate(panels):
        draw(cells[str(index)])
    params = metrics["params"]
    ranking_model = params.get("ranking") or {}
    lists = (
        f"; lists: ranking model, rank {ranking_model['rank']}, alpha {ranking_model['alpha']:g}"
        if ranking_model.get("lists_from") == "ranking"
        else ""
    )
    figure.suptitle(
        f"ALS run {metrics['run_id']}: {params['model']} model, rank {params['rank']}, "
        f"regParam {params['reg_param']:g}, maxIter {params['max_iter']}{lists}",
        fontsize=10,
    )
    figure.tight_layout()
    return figure


def write_chart(metrics: dict, path: Path, oracle_rmse: float | None = None) -> Path:
    """Draw the run's chart into path (PNG): make run (run_sample) and make results (tools/lab.py) both call
    this. Returns path."""
    figure = draw_figure(metrics, oracle_rmse)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("metrics", type=Path, help="a run's metrics.json")
    parser.add_argument("--oracle", type=Path, help="oracle.json of synthetic data, for the floor")
    parser.add_argument("--out", type=Path, help="default: run.png beside metrics.json")
    args = parser.parse_args(argv)
    metrics = json.loads(args.metrics.read_text())
    oracle = json.loads(args.oracle.read_text())["oracle_rmse"] if args.oracle else None
    print(write_chart(metrics, args.out or args.metrics.with_name("run.png"), oracle))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
