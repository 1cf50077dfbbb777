"""spark_jobs/synthetic_ratings.py: determinism, shape, the bundled sample and the oracle floor."""

from __future__ import annotations

import dataclasses
import filecmp
from pathlib import Path

import numpy as np
import pytest

from spark_jobs.synthetic_ratings import SyntheticSpec, expected_rating, generate, oracle_metrics, write_dataset

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
    assert user.size == spec.ratings == 100_000
    assert np.unique(user).size == spec.users and item.max() < spec.items
    assert np.unique(user * spec.items + item).size == user.size  # no duplicate (user, item)
    per_user = np.bincount(user)
    assert per_user.min() >= spec.min_per_user
    per_item = np.bincount(item, minlength=spec.items)
    assert per_item.max() > 10 * np.median(per_item)  # Zipf-like skew: a few blockbusters
    ratings = np.concatenate([data.train_rating, data.test_rating])
    assert set(np.unique(ratings)) == {1, 2, 3, 4, 5}
    assert abs(data.test_rating.size / spec.ratings - spec.test_fraction) < 0.01
    assert np.isin(data.test_item, data.train_item).all()  # no cold-start test rows


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
