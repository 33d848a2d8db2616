"""The run cache under pytest (lowdim.engine.cache): where its store lives, and each row's
`cached_s`, the seconds of training a test read from the store instead of computing.

The store is pytest's cache folder .pytest_cache/d/lowdim-runs, so `pytest --cache-clear`
clears it too; --lowdim-cache-clear empties only it, --lowdim-no-cache turns the disk store off.
Every process (controller and each xdist worker) points the store there; the engine is imported
inside the functions, when the run is configured (torch loads then, not at plugin import).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

STORE_DIR_NAME = "lowdim-runs"  # the store's folder under .pytest_cache/d/
PROP_CACHED = "lowdim_cached_s"  # {"when": phase, "s": seconds of training read from the cache}
_SERVED = pytest.StashKey[float]()  # cache.served_seconds() when the item's last phase ended


def use_pytest_store(config: pytest.Config, *, controller: bool) -> Any:
    """Point the store at pytest's cache folder per the run's options. --lowdim-cache-clear
    empties it in the controller only, which configures before xdist starts any worker.
    Returns the previous setting, for `restore_store`."""
    from ..engine import cache

    pytest_cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
    directory = Path(pytest_cache.mkdir(STORE_DIR_NAME)) if pytest_cache is not None else None
    if directory is not None and controller and config.getoption("lowdim_cache_clear"):
        cache.clear_store(directory)
    if config.getoption("lowdim_no_cache"):
        directory = None
    return cache.set_store(directory)


def clear_before_workers(config: pytest.Config) -> None:
    """--lowdim-cache-clear on an xdist controller not yet known to run claims (gate.py): it
    empties the store before the workers start, for it may wake only once they run, too late
    to clear under their feet."""
    pytest_cache = getattr(config, "cache", None)
    if pytest_cache is not None and config.getoption("lowdim_cache_clear"):
        from ..engine import cache  # torch: only where the option asks for it

        cache.clear_store(Path(pytest_cache.mkdir(STORE_DIR_NAME)))


def restore_store(previous: Any) -> None:
    """Put the store back (an in-process pytester run must not move its outer run's store)."""
    from ..engine import cache

    cache.restore_store(previous)


def start_item(item: pytest.Item) -> None:
    """Before an item's first phase: the store's counter, to measure its phases against."""
    from ..engine import cache

    item.stash[_SERVED] = cache.served_seconds()


def note_served(item: pytest.Item, when: str) -> None:
    """After a phase, before its report is made from item.user_properties: the seconds of
    training it read from the store, as the report's `cached_s`, so that a cached run still
    records what a cold run of each file costs (for the order in which -n deals files)."""
    from ..engine import cache

    now = cache.served_seconds()
    saved = now - item.stash.get(_SERVED, now)
    item.stash[_SERVED] = now
    if saved > 0:
        item.user_properties.append((PROP_CACHED, json.dumps({"when": when,
                                                               "s": round(saved, 3)})))
