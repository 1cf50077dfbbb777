"""The ranking bench's own parts (bench/topn_bench.py, bench/topn_data.py): no Spark, no implicit."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from bench.topn_bench import Split, ease_weights, popularity
from bench.topn_data import DENSE_MIN_RATINGS, Ratings, variants


def _ratings(rows: list) -> Ratings:
    array = np.array(rows, dtype=np.float64)
    return Ratings("tiny", array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2], "test")


def test_ease_weights_are_each_items_ridge_regression_on_the_others():
    rng = np.random.default_rng(3)
    binary = sparse.csr_matrix((rng.random((40, 6)) < 0.4).astype(np.float64))
    weight = 2.5
    weights = ease_weights(binary, weight)
    dense = binary.toarray()
    assert np.allclose(np.diag(weights), 0.0)
    for item in range(6):
        others = [other for other in range(6) if other != item]
        features = dense[:, others]
        ridge = np.linalg.solve(features.T @ features + weight * np.eye(5), features.T @ dense[:, item])
        assert np.allclose(weights[others, item], ridge)


def test_the_split_evaluates_known_users_with_relevant_held_out_ratings_and_popularity_skips_their_items():
    rows = [
        (1, 10, 5),
        (1, 11, 4),
        (2, 10, 4),
        (2, 12, 5),
        (3, 10, 2),
        (3, 11, 5),
        (3, 12, 4),  # training
        (1, 12, 5),
        (2, 11, 4),
        (2, 13, 2),
        (3, 13, 5),
        (4, 10, 5),  # held out
    ]
    ratings = _ratings(rows)
    train = np.arange(len(rows)) < 7
    split = Split(ratings, train)
    # User 4 has no training rating; user 2's rating of 13 is below 4; item 13 was never trained on.
    assert split.users.tolist() == [1, 2, 3]
    assert [labels.tolist() for labels in split.labels] == [[12], [11], [13]]
    result = popularity(split)
    # Popularity (training ratings >= 4): 10 (2), 11 (2), 12 (2): ties to the lower id; rated items skipped.
    # User 1 gets [12], user 2 [11], user 3 nothing left: NDCG 1, 1, 0.
    assert result["ndcg_at_n"] == 2 / 3 and result["recall_at_n"] == 2 / 3
    assert result["coverage"] == 2 / 3  # items 11 and 12 of the 3 trained on
    assert result["long_tail_share"] == 1.0  # every item has fewer than 5 training ratings


def test_the_dense_subset_keeps_busy_users_and_items_and_the_sparse_one_a_random_share():
    rng = np.random.default_rng(0)
    users = rng.integers(1, 300, 60_000)
    items = rng.integers(1, 500, 60_000)
    full = Ratings("x", users, items, rng.integers(1, 6, 60_000).astype(np.float64), "test")
    whole, dense, sparse_subset = variants(full, seed=1)
    assert whole is full and (dense.name, sparse_subset.name) == ("x dense", "x sparse")
    user_counts, item_counts = np.bincount(users), np.bincount(items)
    assert (user_counts[dense.user] >= DENSE_MIN_RATINGS).all() and (item_counts[dense.item] >= DENSE_MIN_RATINGS).all()
    assert abs(sparse_subset.user.size / users.size - 0.3) < 0.01
