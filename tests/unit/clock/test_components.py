"""The connected components the trial of unproven leaps pins: the same partition as
scipy's connected_components, which it replaced."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from skewsleuth.clock.model import _components


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for node, label in enumerate(labels.tolist()):
        groups.setdefault(label, set()).add(node)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("n, edges, seed", [(1, 0, 0), (6, 0, 1), (50, 30, 2), (400, 390, 3), (2000, 5000, 4)])
def test_the_same_components_as_scipy(n, edges, seed):
    rng = np.random.default_rng(seed)
    ci, cj = rng.integers(0, n, edges), rng.integers(0, n, edges)
    ours = _components(n, ci, cj)
    _, theirs = connected_components(coo_matrix((np.ones(edges), (ci, cj)), shape=(n, n)), directed=False)
    assert _partition(ours) == _partition(theirs)
    assert (ours <= np.arange(n)).all() and (ours[ours] == ours).all()     # each the smallest node of its own


def test_a_chain_written_backwards_is_one_component():
    n = 3000
    ci = np.arange(n - 1, 0, -1)
    ours = _components(n, ci, ci - 1)
    assert (ours == 0).all()
