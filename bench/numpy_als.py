"""Single-machine explicit ALS in vectorised NumPy: the peer Spark's ALS is benchmarked against.

The same models as spark_jobs/als_job.py (--model, default blend): *biased* is the global mean mu and
shrunk biases (b_i = sum(r - mu) / (n_i + baseline_reg), then b_u on what is left), then ALS-WR on the
residual (each user's factor solves (Q_u^T Q_u + reg_param * n_u * I) x = Q_u^T r_u, and symmetrically
for items, items first like Spark); *plain* is ALS-WR on the raw ratings; *blend* is the mean of the two.
Factors start as seeded N(0, 1) rows scaled to unit norm, as Spark does. Predictions for ids unseen in
training are dropped by the caller (coldStartStrategy "drop").

Vectorised and bounded in memory: per-rating outer products are summed per user in chunks of
CHUNK ratings with np.add.reduceat, then all r x r systems are solved in one batched np.linalg.solve.
Top-N lists score users in blocks against all items and skip each user's training items.

    python -m bench.numpy_als --data DIR [--model blend --rank 10 --reg-param 0.1 --max-iter 20 --top-n 10]

prints one JSON line: RMSE/MAE of the model and of the bias baseline, ranking metrics of the model
and of the popularity recommender, seconds per phase.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

CHUNK = 1 << 18  # ratings per block of outer products: 256K x rank^2 doubles (200 MB at rank 10)
USER_BLOCK = 1024  # users scored at once for top-N


def _solve_side(
    index: np.ndarray, other: np.ndarray, rating: np.ndarray, other_factors: np.ndarray, count: int, reg_param: float
) -> np.ndarray:
    """New factors for every id in 0..count-1 of one side, given the other side's factors."""
    rank = other_factors.shape[1]
    order = np.argsort(index, kind="stable")
    index, other, rating = index[order], other[order], rating[order]
    gram = np.zeros((count, rank, rank))
    rhs = np.zeros((count, rank))
    for start in range(0, index.size, CHUNK):
        chunk = slice(start, start + CHUNK)
        ids, starts = np.unique(index[chunk], return_index=True)
        q = other_factors[other[chunk]]
        gram[ids] += np.add.reduceat(q[:, :, None] * q[:, None, :], starts, axis=0)
        rhs[ids] += np.add.reduceat(q * rating[chunk, None], starts, axis=0)
    counts = np.bincount(index, minlength=count)
    seen = counts > 0
    gram[seen] += (reg_param * counts[seen])[:, None, None] * np.eye(rank)
    factors = np.zeros((count, rank))
    factors[seen] = np.linalg.solve(gram[seen], rhs[seen][:, :, None])[:, :, 0]
    return factors


def _initial_factors(count: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    factors = rng.normal(size=(count, rank))
    return factors / np.linalg.norm(factors, axis=1, keepdims=True)


def fit(
    user: np.ndarray,
    item: np.ndarray,
    rating: np.ndarray,
    rank: int,
    reg_param: float,
    max_iter: int,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Alternate max_iter times (items first, like Spark); returns (user_factors, item_factors)."""
    rng = np.random.default_rng(seed)
    users, items = int(user.max()) + 1, int(item.max()) + 1
    rating = rating.astype(np.float64)
    user_factors = _initial_factors(users, rank, rng)
    item_factors = _initial_factors(items, rank, rng)
    for _ in range(max_iter):
        item_factors = _solve_side(item, user, rating, user_factors, items, reg_param)
        user_factors = _solve_side(user, item, rating, item_factors, users, reg_param)
    return user_factors, item_factors


def fit_biases(user: np.ndarray, item: np.ndarray, rating: np.ndarray, reg: float) -> tuple:
    """(mu, user_bias, item_bias) exactly as the job's bias baseline computes them."""
    mu = float(rating.mean())
    item_bias = np.bincount(item, rating - mu) / (np.bincount(item) + reg)
    user_bias = np.bincount(user, rating - mu - item_bias[item]) / (np.bincount(user) + reg)
    return mu, user_bias, item_bias


def ranking_metrics(lists: list, relevant: list, top_n: int) -> dict:
    """precision, recall, NDCG and MAP at top_n, defined as Spark's RankingEvaluator defines them."""
    discount = 1.0 / np.log2(np.arange(top_n) + 2.0)
    totals = np.zeros(4)
    for predicted, positives in zip(lists, relevant, strict=True):
        hits = np.isin(predicted[:top_n], positives)
        found = hits.sum()
        ideal = discount[: min(len(positives), top_n)].sum()
        precision_sum = (np.cumsum(hits) / (np.arange(hits.size) + 1.0))[hits].sum()
        totals += (
            found / top_n,
            found / len(positives),
            discount[: hits.size][hits].sum() / ideal,
            precision_sum / min(len(positives), top_n),
        )
    values = totals / len(relevant)
    return dict(zip(("precision_at_n", "recall_at_n", "ndcg_at_n", "map_at_n"), map(float, values), strict=True))


def top_unrated(
    score_users: np.ndarray, scores_for: Callable[[np.ndarray], np.ndarray], rated: dict, top_n: int
) -> list:
    """Each user's top_n items by score among those not in rated[user]; scores_for(users) -> (users, items)."""
    lists: list = []
    for start in range(0, score_users.size, USER_BLOCK):
        block = score_users[start : start + USER_BLOCK]
        scores = scores_for(block)
        for row, user in enumerate(block):
            scores[row, rated.get(int(user), [])] = -np.inf
        best = np.argpartition(-scores, top_n - 1, axis=1)[:, :top_n]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1)
        lists.extend(np.take_along_axis(best, order, axis=1))
    return lists


class FittedModel(NamedTuple):
    """The training ratings (0-based ids) and what was fitted on them: mu and the biases, and (weight, user
    factors, item factors, has biases) of each part of the model."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    mu: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    parts: list[tuple[float, np.ndarray, np.ndarray, bool]]


def evaluate(
    data_dir: Path,
    rank: int,
    reg_param: float,
    max_iter: int,
    seed: int,
    baseline_reg: float,
    top_n: int,
    relevant_rating: float,
    clip: tuple,
    model: str = "blend",
) -> dict:
    """Fit on u.data, evaluate on u.test; the figures als_bench puts beside the Spark job's."""
    seconds = {}
    start = time.perf_counter()
    train = np.loadtxt(data_dir / "u.data", dtype=np.int64, delimiter="\t")
    test = np.loadtxt(data_dir / "u.test", dtype=np.int64, delimiter="\t")
    seconds["load"] = time.perf_counter() - start

    start = time.perf_counter()
    fitted = fit_model(train, model, rank, reg_param, max_iter, seed, baseline_reg)
    seconds["train"] = time.perf_counter() - start

    start = time.perf_counter()
    result, known = regression_metrics(fitted, test, clip)
    seconds["evaluate"] = time.perf_counter() - start

    start = time.perf_counter()
    result["ranking"] = ranking_report(fitted, test, known, top_n, relevant_rating)
    seconds["recommend_rank"] = time.perf_counter() - start
    result["phase_seconds"] = {name: round(value, 3) for name, value in seconds.items()}
    result["wall_seconds"] = round(sum(seconds.values()), 3)
    return result


def fit_model(
    train: np.ndarray, model: str, rank: int, reg_param: float, max_iter: int, seed: int, baseline_reg: float
) -> FittedModel:
    """The biases, then the plain and/or biased ALS parts of ``model`` (blend: both, weighted one half each)."""
    user, item, rating = train[:, 0] - 1, train[:, 1] - 1, train[:, 2].astype(np.float64)
    mu, user_bias, item_bias = fit_biases(user, item, rating, baseline_reg)
    residual = rating - mu - user_bias[user] - item_bias[item]
    parts = []
    weight = 1.0 if model != "blend" else 0.5
    if model in ("biased", "blend"):
        parts.append((weight, *fit(user, item, residual, rank, reg_param, max_iter, seed), True))
    if model in ("plain", "blend"):
        parts.append((weight, *fit(user, item, rating, rank, reg_param, max_iter, seed), False))
    return FittedModel(user, item, rating, mu, user_bias, item_bias, parts)


def regression_metrics(fitted: FittedModel, test: np.ndarray, clip: tuple) -> tuple[dict[str, Any], np.ndarray]:
    """RMSE, MAE and the bias baseline's RMSE on the test ratings whose user and item were both trained; returns
    them with the mask of those test rows."""
    user, item, user_bias, item_bias = fitted.user, fitted.item, fitted.user_bias, fitted.item_bias
    test_user, test_item, test_rating = test[:, 0] - 1, test[:, 1] - 1, test[:, 2].astype(np.float64)
    known = (test_user < user_bias.size) & (test_item < item_bias.size)
    known[known] &= (np.bincount(user, minlength=user_bias.size)[test_user[known]] > 0) & (
        np.bincount(item, minlength=item_bias.size)[test_item[known]] > 0
    )
    u, i, actual = test_user[known], test_item[known], test_rating[known]
    baseline = fitted.mu + user_bias[u] + item_bias[i]
    prediction = np.zeros_like(baseline)
    for share, part_users, part_items, biased in fitted.parts:
        predicted = np.einsum("ij,ij->i", part_users[u], part_items[i])
        prediction += share * (baseline + predicted if biased else predicted)
    prediction = np.clip(prediction, *clip)
    baseline = np.clip(baseline, *clip)
    return {
        "rmse": float(np.sqrt(np.mean((prediction - actual) ** 2))),
        "mae": float(np.mean(np.abs(prediction - actual))),
        "baseline_rmse": float(np.sqrt(np.mean((baseline - actual) ** 2))),
        "test_rows_evaluated": int(known.sum()),
    }, known


def ranking_report(
    fitted: FittedModel, test: np.ndarray, known: np.ndarray, top_n: int, relevant_rating: float
) -> dict[str, Any]:
    """The model's and popularity's top_n unrated lists for the users with a relevant known test rating, scored."""
    user, item, item_bias = fitted.user, fitted.item, fitted.item_bias
    users_count = fitted.user_bias.size
    test_user, test_item, test_rating = test[:, 0] - 1, test[:, 1] - 1, test[:, 2].astype(np.float64)
    order = np.argsort(user, kind="stable")
    items_by_user = item[order]
    bounds = np.searchsorted(user[order], np.arange(users_count + 1))
    rated = {u_: items_by_user[bounds[u_] : bounds[u_ + 1]] for u_ in range(users_count)}
    positive = known & (test_rating >= relevant_rating)
    by_user = np.argsort(test_user[positive], kind="stable")
    positive_user, positive_item = test_user[positive][by_user], test_item[positive][by_user]
    eval_users, starts = np.unique(positive_user, return_index=True)
    relevant = np.split(positive_item, starts[1:])

    def model_scores(users: np.ndarray) -> np.ndarray:
        # A user's own constant terms (mu + b_u) do not change the order of their list: left out.
        scores = np.zeros((users.size, item_bias.size))
        for share, part_users, part_items, biased in fitted.parts:
            scores += share * (part_users[users] @ part_items.T + (item_bias if biased else 0.0))
        return scores

    model_lists = top_unrated(eval_users, model_scores, rated, top_n)
    popularity = np.bincount(item[fitted.rating >= relevant_rating], minlength=item_bias.size).astype(np.float64)
    popular_lists = top_unrated(eval_users, lambda users: np.tile(popularity, (users.size, 1)), rated, top_n)
    return {
        "users_evaluated": int(eval_users.size),
        "model": ranking_metrics(model_lists, relevant, top_n),
        "popularity": ranking_metrics(popular_lists, relevant, top_n),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="directory with u.data and u.test")
    parser.add_argument("--model", choices=["blend", "biased", "plain"], default="blend")
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--reg-param", type=float, default=0.1)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--baseline-reg", type=float, default=10.0)
    parser.add_argument("--top-n", type=int, default=10)
    parser.add_argument("--relevant-rating", type=float, default=4.0)
    args = parser.parse_args(argv)
    result = evaluate(
        args.data,
        args.rank,
        args.reg_param,
        args.max_iter,
        args.seed,
        args.baseline_reg,
        args.top_n,
        args.relevant_rating,
        (0.5, 5.0),
        args.model,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
