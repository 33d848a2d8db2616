"""Who hears of each training: listeners that lowdim.train calls with every result it returns.

The plugin listens while a claim test runs, to name in the row the seeds that diverged in a
training of the test but that the test's Evidence did not count as diverged (their garbage
values would otherwise enter the decision as ordinary numbers). A result served by the run
cache was trained in an earlier run and is not heard again. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

_LISTENERS: list[Callable] = []


def listen(fn: Callable) -> Callable[[], None]:
    """Call fn(result, seeds) after every lowdim.train; returns the function that stops it."""
    _LISTENERS.append(fn)
    return lambda: _LISTENERS.remove(fn) if fn in _LISTENERS else None


def trained(result, seeds: Sequence[int]) -> None:
    for fn in list(_LISTENERS):
        fn(result, seeds)


__all__ = ["listen", "trained"]
