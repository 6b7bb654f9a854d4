"""Connected components of the constraint graph (solve.components), which decide where a
trial cut is pinned and which cuts the evidence cannot test: the same partition as
SciPy's csgraph, which found them before (issue 22: SciPy's import cost more than a
small case's clock model)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from skewsleuth.clock.solve import components
from support.properties import examples


def _partition(labels: np.ndarray) -> list[list[int]]:
    groups: dict[int, list[int]] = {}
    for node, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(node)
    return sorted(groups.values())


def _scipy(n: int, a: list[int], b: list[int]) -> np.ndarray:
    return connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)[1]


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 60))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))
    return n, [e[0] for e in edges], [e[1] for e in edges]


@settings(max_examples=examples(200), deadline=None)
@given(graphs())
def test_the_same_partition_as_scipy_named_by_the_smallest_node(graph):
    n, a, b = graph
    comp = components(n, np.array(a, dtype=np.int64), np.array(b, dtype=np.int64))
    assert _partition(comp) == _partition(_scipy(n, a, b))
    assert all(comp[node] == min(group) for group in _partition(comp) for node in group)


def test_a_long_chain_given_backwards_and_isolated_nodes():
    """Node 0 is true time; a host's segments chained one after another, the chain's
    edges listed from its far end, beside segments nothing constrains."""
    n = 5001
    a = np.arange(4000, 0, -1)
    comp = components(n, a, a - 1)
    assert (comp[:4001] == 0).all() and (comp[4001:] == np.arange(4001, n)).all()
    assert _partition(comp) == _partition(_scipy(n, a.tolist(), (a - 1).tolist()))


def test_no_edges_leaves_every_node_alone():
    assert components(3, np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == [0, 1, 2]
