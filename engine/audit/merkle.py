"""The Merkle tree hash of the audit log (RFC 6962 §2.1, as Certificate Transparency and Trillian).

Leaves are the events' hashes in the log's global order (`gseq`). `Frontier` holds the roots of
the perfect subtrees that make up a tree of `size` leaves (one per set bit of `size`, largest
first), so a checkpoint extends the tree from the last one by reading only the events after it,
and the root of every prefix falls out of one pass over the log when verifying.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(event_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + event_hash.encode("ascii")).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass
class Frontier:
    """A tree of `size` leaves, as the roots of its perfect subtrees (largest first)."""

    size: int = 0
    nodes: list[bytes] = field(default_factory=list)

    def append(self, event_hash: str) -> None:
        node = leaf_hash(event_hash)
        self.size += 1
        # The trailing zero bits of the new size are the subtrees that merge with the new leaf.
        merges = (self.size & -self.size).bit_length() - 1
        for _ in range(merges):
            node = node_hash(self.nodes.pop(), node)
        self.nodes.append(node)

    def root(self) -> str:
        if not self.nodes:
            return EMPTY_ROOT
        node = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            node = node_hash(left, node)
        return node.hex()

    def dump(self) -> list[str]:
        return [n.hex() for n in self.nodes]

    @classmethod
    def load(cls, size: int, nodes: list[str]) -> Frontier:
        if len(nodes) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} subtrees, not {len(nodes)}")
        return cls(size, [bytes.fromhex(n) for n in nodes])


def tree_root(event_hashes: list[str]) -> str:
    """The RFC 6962 root of a list, by the recursive definition (tests check Frontier with it)."""
    def mth(leaves: list[str]) -> bytes:
        if len(leaves) == 1:
            return leaf_hash(leaves[0])
        k = 1 << ((len(leaves) - 1).bit_length() - 1)  # the largest power of two below n
        return node_hash(mth(leaves[:k]), mth(leaves[k:]))
    return mth(event_hashes).hex() if event_hashes else EMPTY_ROOT
