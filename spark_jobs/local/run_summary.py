"""What a run's lists look like, as text lines from its metrics.json: the ranking metrics beside popularity,
catalogue coverage, the long-tail share and, with --items, the sample user's list. make run (run_sample) and
make results (tools/lab.py) both print these lines."""

from __future__ import annotations

from spark_jobs.als.titles import sample_lines

# The job's phases in the order it runs them (spark_jobs/als/job.py); metrics.json sorts its keys.
PHASE_ORDER = (
    "load_validate",
    "tune",
    "tune_ranking",
    "train",
    "train_ranking",
    "evaluate",
    "recommend",
    "rank_evaluate",
    "save_model",
)


def ordered_phases(phases: dict) -> list[str]:
    """The names of metrics.json's phase_seconds in the order the job ran them (any unknown ones last)."""
    return [name for name in PHASE_ORDER if name in phases] + sorted(set(phases) - set(PHASE_ORDER))


RANKING_ROWS = (
    ("ndcg_at_n", "NDCG", 4),
    ("precision_at_n", "precision", 4),
    ("recall_at_n", "recall", 4),
    ("map_at_n", "MAP", 4),
    ("coverage", "catalogue coverage", 3),
    ("long_tail_share", "share with < 5 training ratings", 3),
)


def ranking_lines(metrics: dict) -> list:
    """The lists' metrics beside popularity's, one line each; empty when the run has no ranking section."""
    ranking = metrics.get("ranking")
    if not ranking:
        return []
    source = ranking.get("lists_from", "rating")
    lines = [
        f"top-{ranking['n']} lists ({source} model) / popularity: {ranking['users_evaluated']} users, "
        f"{ranking['relevant']}"
    ]
    width = max(len(label) for _, label, _ in RANKING_ROWS)
    for key, label, digits in RANKING_ROWS:
        if key in ranking["model"] and key in ranking["popularity"]:
            model, popular = ranking["model"][key], ranking["popularity"][key]
            ratio = f"  ({model / popular:.2f}x)" if key == "ndcg_at_n" and popular else ""
            lines.append(f"  {label:<{width}}  {model:.{digits}f} / {popular:.{digits}f}{ratio}")
    if metrics.get("sample_user"):
        lines += sample_lines(metrics["sample_user"])
    return lines
