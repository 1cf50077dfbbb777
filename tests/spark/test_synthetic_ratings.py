"""spark_jobs/local/synthetic_ratings.py: determinism, shape, the bundled sample and the oracle floor."""

from __future__ import annotations

import dataclasses
import filecmp
from pathlib import Path

import numpy as np
import pytest

from spark_jobs.local.synthetic_ratings import SyntheticSpec, expected_rating, generate, oracle_metrics, write_dataset

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "spark_jobs" / "sample_data"
SMALL = SyntheticSpec(users=200, items=300, ratings=10_000, seed=11)


def _arrays(data) -> dict:
    return {f.name: getattr(data, f.name) for f in dataclasses.fields(data) if f.name != "spec"}


def test_same_spec_gives_identical_data_and_another_seed_does_not():
    first, second = _arrays(generate(SMALL)), _arrays(generate(SMALL))
    assert all(np.array_equal(first[name], second[name]) for name in first)
    other = _arrays(generate(dataclasses.replace(SMALL, seed=12)))
    assert not np.array_equal(first["train_rating"], other["train_rating"])


def test_shape_is_movielens_like():
    spec = SyntheticSpec()
    data = generate(spec)
    user = np.concatenate([data.train_user, data.test_user])
    item = np.concatenate([data.train_item, data.test_item])
    ratings = np.concatenate([data.train_rating, data.test_rating])
    assert user.size == spec.ratings == 100_000
    assert np.unique(user).size == spec.users and item.max() < spec.items
    assert np.unique(user * spec.items + item).size == user.size  # no duplicate (user, item)
    # Power-law activity: at least min_per_user each, a long tail of heavy raters.
    per_user = np.bincount(user)
    assert per_user.min() == spec.min_per_user
    assert per_user.max() > 8 * np.median(per_user) and np.median(per_user) < per_user.mean()
    # Power-law popularity: a few blockbusters, a tail of items with a handful of ratings.
    per_item = np.bincount(item, minlength=spec.items)
    assert per_item.max() > 20 * np.median(per_item) and (per_item < 5).sum() > 0.01 * spec.items
    # Integer stars 1-5 shaped like MovieLens (mean ~3.5, every star used, 4 the most common).
    counts = np.bincount(ratings, minlength=6)[1:]
    assert set(np.unique(ratings)) == {1, 2, 3, 4, 5} and counts.argmax() == 3 and counts.min() > 0.02 * user.size
    assert 3.3 < ratings.mean() < 3.8 and 0.9 < ratings.std() < 1.3
    assert abs(data.test_rating.size / spec.ratings - spec.test_fraction) < 0.01
    assert np.isin(data.test_item, data.train_item).all()  # no cold-start test rows


def test_users_and_items_have_biases_and_popular_items_rate_higher():
    data = generate(SyntheticSpec())
    user = np.concatenate([data.train_user, data.test_user])
    item = np.concatenate([data.train_item, data.test_item])
    ratings = np.concatenate([data.train_rating, data.test_rating]).astype(float)
    user_means = np.bincount(user, ratings) / np.bincount(user)
    # Spread of per-user means well beyond what sampling noise alone gives (sd ~1.1 / sqrt(n_u)).
    noise_only = 1.1 / np.sqrt(np.bincount(user)).mean()
    assert user_means.std() > 3 * noise_only
    per_item = np.bincount(item, minlength=data.spec.items)
    item_means = np.bincount(item, ratings, minlength=data.spec.items) / np.maximum(per_item, 1)
    rated = per_item >= 20
    assert np.corrcoef(np.log(per_item[rated]), item_means[rated])[0, 1] > 0.2


def test_each_user_gets_exactly_their_count_of_distinct_items_at_any_size():
    """The vectorised sampler: light users by draws with replacement, heavy ones by Gumbel top-k."""
    spec = SyntheticSpec(users=400, items=90, ratings=8_000, min_per_user=5, seed=5)  # many users hit the cap
    data = generate(spec)
    user = np.concatenate([data.train_user, data.test_user])
    item = np.concatenate([data.train_item, data.test_item])
    assert user.size == spec.ratings
    assert np.unique(user * spec.items + item).size == user.size
    assert np.bincount(user).max() == spec.items // 3 and np.bincount(user).min() >= spec.min_per_user


def test_bundled_sample_is_exactly_what_the_generator_writes(tmp_path):
    write_dataset(generate(SyntheticSpec()), tmp_path)
    for name in ("u.data", "u.test", "oracle.json"):
        assert filecmp.cmp(SAMPLE / name, tmp_path / name, shallow=False), name
    assert sum((SAMPLE / name).stat().st_size for name in ("u.data", "u.test", "oracle.json")) <= 2 * 1024**2


def test_oracle_prediction_is_the_mean_of_ratings_made_the_generators_way():
    rng = np.random.default_rng(0)
    scores = np.array([0.2, 1.3, 2.5, 3.49, 4.2, 5.6])
    sigma = 0.8
    noisy = scores[:, None] + rng.normal(0.0, sigma, size=(scores.size, 200_000))
    simulated = np.clip(np.rint(noisy), 1, 5).mean(axis=1)
    np.testing.assert_allclose(expected_rating(scores, sigma), simulated, atol=0.01)


def test_oracle_rmse_is_the_floor_and_matches_the_written_value(tmp_path):
    data = generate(SMALL)
    oracle = write_dataset(data, tmp_path)
    actual = data.test_rating.astype(float)
    best = expected_rating(data.test_true_score, SMALL.noise_sigma)
    assert oracle["oracle_rmse"] == pytest.approx(np.sqrt(np.mean((best - actual) ** 2)))
    # The clipped true score is a worse predictor than the conditional mean, and so is any shrunk version.
    assert oracle["oracle_rmse"] < oracle["clipped_true_score_rmse"]
    shrunk = 0.9 * best + 0.1 * actual.mean()
    assert oracle["oracle_rmse"] < np.sqrt(np.mean((shrunk - actual) ** 2))
    # Noise of sigma alone would give about sigma (plus rounding); clipping makes it a little lower.
    assert 0.7 * SMALL.noise_sigma < oracle["oracle_rmse"] < np.hypot(SMALL.noise_sigma, 0.3)
    assert {key: oracle[key] for key in oracle_metrics(data)} == oracle_metrics(data)
