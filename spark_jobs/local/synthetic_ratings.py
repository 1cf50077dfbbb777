"""Deterministic MovieLens-shaped synthetic ratings with a known floor (the oracle RMSE).

Model, as real explicit ratings look: score(u, i) = mu + b_u + b_i + p_u . q_i, with
  - a global mean mu and Gaussian user and item biases; popular items are rated higher (b_i gets
    popularity_bias x the standardised log popularity), as in MovieLens;
  - a rank-`rank` taste interaction p_u . q_i whose component spreads decay geometrically
    (`taste_decay`), so a few tastes dominate and the tail fades rather than stopping at a sharp rank.
Observed rating = clip(rint(score + N(0, noise_sigma^2)), 1, 5): integer stars 1..5 (numpy rint,
ties to even; ties have probability zero).

Which pairs are rated: user activity is power-law (Pareto with shape `activity_exponent` above
`min_per_user`, capped at items // 3), like the long tail of MovieLens users; each user draws that
many distinct items with Zipf-like popularity p_i ~ (popularity_rank_i + zipf_offset) ** -zipf_exponent,
one at a time among the items not drawn yet (successive sampling).

Held-out test set: `test_fraction` of every user's ratings, like MovieLens u1.base/u1.test; a test
rating whose item has no training rating is moved back to training so no test row is cold-start.

Oracle: the best possible predictor of a rating given the true score is its conditional mean
E[clip(rint(score + noise), 1, 5) | score], computed exactly from the normal CDF with the same
rounding and clipping as the data. Its RMSE on the test set is the floor no method can beat in
expectation. For reference oracle.json also has the RMSE of the clipped true score.

Files written (tab-separated user item rating timestamp, 1-based ids, like MovieLens u.data):
  u.data       training ratings
  u.test       held-out test ratings
  oracle.json  oracle RMSE/MAE, sizes and the generator parameters
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

TIMESTAMP_BASE = 874_724_710  # first timestamp in MovieLens 100K; keeps the files familiar-looking
RATING_MIN = 1
RATING_MAX = 5
HEAVY_USER_SHARE = 0.125  # users drawing more than this share of the items use Gumbel top-k


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Generator parameters; the defaults give an ML-100K-sized data set."""

    users: int = 1000
    items: int = 1700
    ratings: int = 100_000
    rank: int = 16
    global_mean: float = 3.3
    user_bias_sigma: float = 0.5
    item_bias_sigma: float = 0.4
    popularity_bias: float = 0.25  # item bias per standard deviation of log popularity
    taste_sigma: float = 0.55  # spread of the interaction's first component on each side
    taste_decay: float = 0.8  # each further component's spread is this times the previous one's
    noise_sigma: float = 0.85
    activity_exponent: float = 1.5
    zipf_exponent: float = 1.6
    zipf_offset: float = 30.0
    min_per_user: int = 20
    test_fraction: float = 0.1
    seed: int = 42


@dataclasses.dataclass(frozen=True)
class SyntheticData:
    """Generated ratings as 0-based index arrays, split into train and test."""

    spec: SyntheticSpec
    train_user: np.ndarray
    train_item: np.ndarray
    train_rating: np.ndarray
    train_timestamp: np.ndarray
    test_user: np.ndarray
    test_item: np.ndarray
    test_rating: np.ndarray
    test_timestamp: np.ndarray
    test_true_score: np.ndarray


def _ratings_per_user(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Power-law activity summing exactly to spec.ratings, each within [min_per_user, items // 3].

    min_per_user + s * w_u with Lomax (Pareto II) weights w_u, the scale s found by bisection so the
    capped counts add up; the rounding remainder goes to the most active users with room.
    """
    cap = spec.items // 3
    if not spec.users * spec.min_per_user <= spec.ratings <= spec.users * cap:
        raise ValueError("ratings must be between users*min_per_user and users*items/3")
    weights = rng.pareto(spec.activity_exponent, size=spec.users)
    low, high = 0.0, float(spec.ratings)
    for _ in range(100):
        scale = (low + high) / 2
        if np.minimum(spec.min_per_user + scale * weights, cap).sum() > spec.ratings:
            high = scale
        else:
            low = scale
    counts = np.minimum(spec.min_per_user + np.floor(low * weights), cap).astype(np.int64)
    order = np.argsort(-weights, kind="stable")
    while counts.sum() < spec.ratings:
        room = order[counts[order] < cap]
        counts[room[: int(spec.ratings - counts.sum())]] += 1
    return counts


def _item_popularity(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Zipf-like popularity; ids are shuffled so popularity does not follow the id."""
    popularity_rank = rng.permutation(spec.items)
    weights = (popularity_rank + spec.zipf_offset) ** -spec.zipf_exponent
    return weights / weights.sum()


def _taste(count: int, spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean taste factors whose component spreads decay geometrically."""
    spreads = spec.taste_sigma * spec.taste_decay ** np.arange(spec.rank)
    return rng.normal(0.0, 1.0, size=(count, spec.rank)) * spreads


def _draw_items(counts: np.ndarray, popularity: np.ndarray, rng: np.random.Generator) -> tuple:
    """(user, item) arrays: counts[u] distinct items per user by successive weighted sampling.

    Light users draw with replacement and keep first occurrences (the same distribution as drawing
    without replacement one at a time), in rounds until they have enough; heavy users use Gumbel
    top-k over all items. Returned sorted by user, then item.
    """
    items = popularity.size
    cdf = np.cumsum(popularity)
    cdf /= cdf[-1]
    heavy = counts > HEAVY_USER_SHARE * items
    users_out, items_out = [], []
    for user in np.flatnonzero(heavy):
        keys = np.log(popularity) + rng.gumbel(size=items)
        users_out.append(np.full(counts[user], user, dtype=np.int64))
        items_out.append(np.argpartition(-keys, counts[user] - 1)[: counts[user]].astype(np.int64))
    pending = np.flatnonzero(~heavy)
    draws = 2
    while pending.size:
        need = counts[pending]
        user = np.repeat(pending, need * draws)
        item = np.minimum(np.searchsorted(cdf, rng.random(user.size), side="right"), items - 1)
        # First occurrence of each (user, item) in draw order, then the first need[u] of them per user.
        _, first = np.unique(user * items + item, return_index=True)
        first.sort()
        user, item = user[first], item[first]
        starts = np.searchsorted(user, pending)
        ends = np.searchsorted(user, pending, side="right")
        enough = ends - starts >= need
        for position in np.flatnonzero(enough):
            users_out.append(user[starts[position] : starts[position] + need[position]])
            items_out.append(item[starts[position] : starts[position] + need[position]])
        pending = pending[~enough]
        draws *= 2
    user = np.concatenate(users_out)
    item = np.concatenate(items_out)
    order = np.lexsort((item, user))
    return user[order], item[order]


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return np.asarray(0.5 * (1.0 + erf(x / math.sqrt(2.0))), dtype=np.float64)


def expected_rating(score: np.ndarray, noise_sigma: float) -> np.ndarray:
    """E[clip(rint(score + noise), 1, 5)]: the oracle prediction, same rounding/clipping as the data."""
    # P(rating <= k) = P(score + noise < k + 0.5) for k = 1..4; P(rating <= 5) = 1.
    below = [_normal_cdf((k + 0.5 - score) / noise_sigma) for k in range(RATING_MIN, RATING_MAX)]
    expected = np.full(score.shape, float(RATING_MAX))
    for cdf in below:  # E[r] = 5 - sum_k P(r <= k) for k = 1..4
        expected -= cdf
    return expected


def generate(spec: SyntheticSpec = SyntheticSpec()) -> SyntheticData:
    """Generate the data set; the same spec always gives the same arrays."""
    rng = np.random.default_rng(spec.seed)
    popularity = _item_popularity(spec, rng)
    log_popularity = np.log(popularity)
    user_bias = rng.normal(0.0, spec.user_bias_sigma, size=spec.users)
    item_bias = rng.normal(0.0, spec.item_bias_sigma, size=spec.items)
    item_bias += spec.popularity_bias * (log_popularity - log_popularity.mean()) / log_popularity.std()
    user_taste, item_taste = _taste(spec.users, spec, rng), _taste(spec.items, spec, rng)
    counts = _ratings_per_user(spec, rng)
    user, item = _draw_items(counts, popularity, rng)

    interaction = np.einsum("ij,ij->i", user_taste[user], item_taste[item])
    score = spec.global_mean + user_bias[user] + item_bias[item] + interaction
    noisy = score + rng.normal(0.0, spec.noise_sigma, size=score.shape)
    rating = np.clip(np.rint(noisy), RATING_MIN, RATING_MAX).astype(np.int64)
    timestamp = TIMESTAMP_BASE + rng.integers(0, 200 * 86_400, size=score.shape)

    # Hold out test_fraction of each user's ratings (a random order within each user, then the
    # first round(test_fraction * count)), then return cold-start test rows to training.
    shuffled = np.lexsort((rng.random(score.size), user))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_user = np.empty(score.size, dtype=np.int64)
    rank_in_user[shuffled] = np.arange(score.size) - np.repeat(starts, counts)
    held = np.rint(spec.test_fraction * counts).astype(np.int64)
    is_test = rank_in_user < held[user]
    items_in_train = np.zeros(spec.items, dtype=bool)
    items_in_train[item[~is_test]] = True
    is_test &= items_in_train[item]

    train, test = ~is_test, is_test
    return SyntheticData(
        spec=spec,
        train_user=user[train],
        train_item=item[train],
        train_rating=rating[train],
        train_timestamp=timestamp[train],
        test_user=user[test],
        test_item=item[test],
        test_rating=rating[test],
        test_timestamp=timestamp[test],
        test_true_score=score[test],
    )


def oracle_metrics(data: SyntheticData) -> dict:
    """Errors of the true model on the test set: the Bayes floor, and the clipped true score."""
    actual = data.test_rating.astype(np.float64)
    best = expected_rating(data.test_true_score, data.spec.noise_sigma)
    clipped = np.clip(data.test_true_score, RATING_MIN, RATING_MAX)
    return {
        "oracle_rmse": float(np.sqrt(np.mean((best - actual) ** 2))),
        "oracle_mae": float(np.mean(np.abs(best - actual))),
        "clipped_true_score_rmse": float(np.sqrt(np.mean((clipped - actual) ** 2))),
        "clipped_true_score_mae": float(np.mean(np.abs(clipped - actual))),
    }


def _udata_text(user: np.ndarray, item: np.ndarray, rating: np.ndarray, timestamp: np.ndarray) -> str:
    # zip(strict=) is Python 3.10+, and test_emr_compat holds every spark_jobs file to 3.9.
    rows = zip((user + 1).tolist(), (item + 1).tolist(), rating.tolist(), timestamp.tolist())  # noqa: B905
    return "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows)


def write_dataset(data: SyntheticData, out_dir: str | Path) -> dict:
    """Write u.data, u.test and oracle.json into out_dir; returns the oracle.json content."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "u.data").write_text(_udata_text(data.train_user, data.train_item, data.train_rating, data.train_timestamp))
    (out / "u.test").write_text(_udata_text(data.test_user, data.test_item, data.test_rating, data.test_timestamp))
    oracle = {
        **oracle_metrics(data),
        "train_rows": int(data.train_rating.size),
        "test_rows": int(data.test_rating.size),
        "rounding": "rint(score + noise) clipped to 1..5; oracle = E[rating | score] under that rule",
        "spec": dataclasses.asdict(data.spec),
    }
    (out / "oracle.json").write_text(json.dumps(oracle, indent=2, sort_keys=True) + "\n")
    return oracle


def main(argv: list[str]) -> int:
    defaults = SyntheticSpec()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for u.data, u.test, oracle.json")
    for field in dataclasses.fields(SyntheticSpec):
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=type(getattr(defaults, field.name)),
            default=getattr(defaults, field.name),
        )
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    oracle = write_dataset(generate(SyntheticSpec(**args)), out)
    print(json.dumps({k: v for k, v in oracle.items() if k != "spec"}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
