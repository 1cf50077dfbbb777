"""Single-machine explicit ALS in vectorised NumPy: the peer Spark's ALS is benchmarked against.

Same model and regularisation as Spark ML's explicit ALS (ALS-WR): each user's factor solves
(Q_u^T Q_u + reg_param * n_u * I) x = Q_u^T r_u, where Q_u are the factors of the items the user
rated and n_u their count, and symmetrically for items. No bias terms (Spark's ALS has none either:
the mean and biases are absorbed by the factors). Factors start as seeded N(0, 1) rows scaled to
unit norm, as Spark does. Predictions for ids unseen in training are dropped by the caller, like
coldStartStrategy="drop".

Vectorised: per-rating outer products are summed per user with np.add.reduceat over ratings sorted
by user, then all users' r x r systems are solved in one batched np.linalg.solve.
"""
from __future__ import annotations

import numpy as np


def _solve_side(index: np.ndarray, other: np.ndarray, rating: np.ndarray,
                other_factors: np.ndarray, count: int, reg_param: float) -> np.ndarray:
    """New factors for every id in 0..count-1 of one side, given the other side's factors."""
    rank = other_factors.shape[1]
    order = np.argsort(index, kind="stable")
    index, other, rating = index[order], other[order], rating[order]
    ids, starts, n = np.unique(index, return_index=True, return_counts=True)
    q = other_factors[other]                                   # (nnz, rank)
    gram = np.add.reduceat(q[:, :, None] * q[:, None, :], starts, axis=0)  # (ids, rank, rank)
    rhs = np.add.reduceat(q * rating[:, None], starts, axis=0)           # (ids, rank)
    gram += (reg_param * n)[:, None, None] * np.eye(rank)
    factors = np.zeros((count, rank))
    factors[ids] = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
    return factors


def _initial_factors(count: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    factors = rng.normal(size=(count, rank))
    return factors / np.linalg.norm(factors, axis=1, keepdims=True)


def fit(user: np.ndarray, item: np.ndarray, rating: np.ndarray, rank: int, reg_param: float,
        max_iter: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
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


def predict(user_factors: np.ndarray, item_factors: np.ndarray, user: np.ndarray,
            item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictions for the (user, item) pairs both seen in training, and the mask of those pairs."""
    known = (user < len(user_factors)) & (item < len(item_factors))
    known[known] &= (np.abs(user_factors[user[known]]).sum(axis=1) > 0) & (
        np.abs(item_factors[item[known]]).sum(axis=1) > 0)
    u, i = user[known], item[known]
    return np.einsum("ij,ij->i", user_factors[u], item_factors[i]), known
