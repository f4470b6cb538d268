"""engine.audit.merkle: the incremental frontier gives RFC 6962's tree hash for every size."""
from __future__ import annotations

import hashlib

import pytest

from engine.audit.merkle import EMPTY_ROOT, Frontier, tree_root


def _hashes(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


def test_the_frontier_root_is_the_tree_hash_at_every_size():
    leaves = _hashes(70)
    frontier = Frontier()
    assert frontier.root() == EMPTY_ROOT == tree_root([])
    for size, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.size == size and len(frontier.nodes) == bin(size).count("1")
        assert frontier.root() == tree_root(leaves[:size])


def test_two_leaves_hash_as_rfc_6962_says():
    a, b = _hashes(2)
    leaf = [hashlib.sha256(b"\x00" + h.encode()).digest() for h in (a, b)]
    assert tree_root([a, b]) == hashlib.sha256(b"\x01" + leaf[0] + leaf[1]).hexdigest()


def test_a_stored_frontier_extends_like_the_one_it_was_saved_from():
    leaves = _hashes(13)
    frontier = Frontier()
    for leaf in leaves[:9]:
        frontier.append(leaf)
    again = Frontier.load(9, frontier.dump())
    for leaf in leaves[9:]:
        again.append(leaf)
    assert again.root() == tree_root(leaves)
    with pytest.raises(ValueError, match="has 2 subtrees"):
        Frontier.load(9, frontier.dump()[:1])


def test_any_change_to_the_leaves_changes_the_root():
    leaves = _hashes(8)
    root = tree_root(leaves)
    assert tree_root(leaves[:7]) != root  # truncated
    assert tree_root([leaves[1], leaves[0], *leaves[2:]]) != root  # reordered
    assert tree_root([*leaves[:3], *leaves[4:]]) != root  # one deleted
