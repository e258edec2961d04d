"""Replica sets: which sidecars hold a blob, as the read models record it (pure functions).

A blob's replicas are the names of the sidecars that stored and verified its bytes, in the order
they were recorded: the ones that made the write quorum first, then those that caught up later
(``s3.ReplicaAdded``). Readers try them in that order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def with_replica(replicas: Sequence[str], name: str) -> list[str]:
    """``replicas`` plus ``name`` at the end (where a caught-up copy is recorded), once."""
    return [*replicas, name] if name not in replicas else list(replicas)


def merged(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """Every name of both, ``first``'s order first: what is known about one blob from two facts."""
    return [*first, *(n for n in second if n not in first)]


def common(replica_sets: Iterable[Sequence[str]]) -> list[str]:
    """The sidecars holding every one of several blobs (the parts of a multipart object), sorted;
    empty for no blobs at all."""
    sets = [set(r) for r in replica_sets]
    return sorted(set.intersection(*sets)) if sets else []


def missing(replicas: Sequence[str], configured: Sequence[str]) -> list[str]:
    """The configured sidecars that do not hold the blob yet, in configuration order."""
    return [n for n in configured if n not in replicas]


def read_order(replicas: Sequence[str], available: Mapping[str, object]) -> list[str]:
    """The recorded replicas a reader can try, in recorded order: names of sidecars this process
    does not know (removed from the configuration) are left out."""
    seen: set[str] = set()
    order = []
    for name in replicas:
        if name in available and name not in seen:
            seen.add(name)
            order.append(name)
    return order


def tally(
    groups: Iterable[tuple[Sequence[str], int]], configured: Sequence[str]
) -> tuple[dict[str, int], int]:
    """From (replica set, number of blobs with it) groups: blobs per configured sidecar, and how
    many blobs some configured sidecar is missing (under-replicated)."""
    per_sidecar = dict.fromkeys(configured, 0)
    under = 0
    for replicas, count in groups:
        for name in set(replicas):
            if name in per_sidecar:
                per_sidecar[name] += count
        if missing(replicas, configured):
            under += count
    return per_sidecar, under
