"""Deterministic MovieLens-shaped synthetic ratings with a known floor (the oracle RMSE).

Model: score(u, i) = p_u . q_i, an exact rank-`rank` matrix. Component 0 of every factor has a
positive mean, so it plays the role of the global mean and the user/item biases; the other
components are zero-mean "taste" interactions that only a factor model can capture.
Observed rating = clip(rint(score + N(0, noise_sigma^2)), 1, 5): Gaussian noise, then rounded to
the nearest integer (numpy rint, ties to even; ties have probability zero), then clipped to 1..5,
so the files look like MovieLens 100K integer stars.

Which pairs are rated: each user rates a skewed number of items (log-normal activity, at least
`min_per_user`), drawn without replacement with Zipf-like item popularity
p_i ~ (popularity_rank_i + zipf_offset) ** -zipf_exponent (Gumbel top-k sampling).

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


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Generator parameters; the defaults give an ML-100K-sized data set."""

    users: int = 1000
    items: int = 1700
    ratings: int = 100_000
    rank: int = 3
    mean_score: float = 3.5
    bias_sigma: float = 0.25  # spread of component 0 (the bias-like part) of user and item factors
    taste_sigma: float = 0.6  # spread of the zero-mean interaction components
    noise_sigma: float = 0.8
    zipf_exponent: float = 1.0
    zipf_offset: float = 10.0
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
    """Skewed activity summing exactly to spec.ratings, each within [min_per_user, items // 2]."""
    cap = spec.items // 2
    if not spec.users * spec.min_per_user <= spec.ratings <= spec.users * cap:
        raise ValueError("ratings must be between users*min_per_user and users*items/2")
    weights = rng.lognormal(mean=0.0, sigma=1.0, size=spec.users)
    extra = spec.ratings - spec.users * spec.min_per_user
    counts = spec.min_per_user + np.floor(weights / weights.sum() * extra).astype(np.int64)
    counts = np.minimum(counts, cap)
    # Hand out the remainder one rating at a time to the most active users that still have room.
    order = np.argsort(-weights, kind="stable")
    while counts.sum() < spec.ratings:
        room = order[counts[order] < cap]
        need = int(spec.ratings - counts.sum())
        counts[room[:need]] += 1
    return counts


def _item_popularity(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Zipf-like popularity; ids are shuffled so popularity does not follow the id."""
    popularity_rank = rng.permutation(spec.items)
    weights = (popularity_rank + spec.zipf_offset) ** -spec.zipf_exponent
    return weights / weights.sum()


def _factors(count: int, spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Factor rows whose dot products average spec.mean_score (through component 0)."""
    factors = rng.normal(0.0, spec.taste_sigma, size=(count, spec.rank))
    factors[:, 0] = rng.normal(math.sqrt(spec.mean_score), spec.bias_sigma, size=count)
    return factors


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    erf = np.frompyfunc(math.erf, 1, 1)
    return 0.5 * (1.0 + erf(x / math.sqrt(2.0)).astype(np.float64))


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
    user_factors = _factors(spec.users, spec, rng)
    item_factors = _factors(spec.items, spec, rng)
    counts = _ratings_per_user(spec, rng)
    log_popularity = np.log(_item_popularity(spec, rng))

    users, items = [], []
    for user, count in enumerate(counts):
        # Gumbel top-k: the k largest log(p) + Gumbel keys are a weighted sample without replacement.
        keys = log_popularity + rng.gumbel(size=spec.items)
        chosen = np.argpartition(-keys, count - 1)[:count]
        users.append(np.full(count, user, dtype=np.int64))
        items.append(np.sort(chosen))
    user = np.concatenate(users)
    item = np.concatenate(items)

    score = np.einsum("ij,ij->i", user_factors[user], item_factors[item])
    noisy = score + rng.normal(0.0, spec.noise_sigma, size=score.shape)
    rating = np.clip(np.rint(noisy), RATING_MIN, RATING_MAX).astype(np.int64)
    timestamp = TIMESTAMP_BASE + rng.integers(0, 200 * 86_400, size=score.shape)

    # Hold out test_fraction of each user's ratings, then return cold-start test rows to training.
    is_test = np.zeros(score.shape, dtype=bool)
    start = 0
    for count in counts:
        held = int(round(spec.test_fraction * count))
        is_test[start + rng.choice(count, size=held, replace=False)] = True
        start += count
    items_in_train = np.zeros(spec.items, dtype=bool)
    items_in_train[item[~is_test]] = True
    is_test &= items_in_train[item]

    train, test = ~is_test, is_test
    return SyntheticData(
        spec=spec,
        train_user=user[train], train_item=item[train],
        train_rating=rating[train], train_timestamp=timestamp[train],
        test_user=user[test], test_item=item[test],
        test_rating=rating[test], test_timestamp=timestamp[test],
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
    rows = zip((user + 1).tolist(), (item + 1).tolist(), rating.tolist(), timestamp.tolist())
    return "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows)


def write_dataset(data: SyntheticData, out_dir: str | Path) -> dict:
    """Write u.data, u.test and oracle.json into out_dir; returns the oracle.json content."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "u.data").write_text(
        _udata_text(data.train_user, data.train_item, data.train_rating, data.train_timestamp))
    (out / "u.test").write_text(
        _udata_text(data.test_user, data.test_item, data.test_rating, data.test_timestamp))
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
        parser.add_argument("--" + field.name.replace("_", "-"), type=type(getattr(defaults, field.name)),
                            default=getattr(defaults, field.name))
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    oracle = write_dataset(generate(SyntheticSpec(**args)), out)
    print(json.dumps({k: v for k, v in oracle.items() if k != "spec"}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
