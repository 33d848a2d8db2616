"""The run cache (lowdim.cache): what makes a key, what an entry holds, how a bad one is met.

Every test points the store at its own tmp_path; the pytester sessions count how often a cached
function really ran by appending to a file, since a memo cannot be seen from outside a process.
"""

import dataclasses
import functools
import importlib.util
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import lowdim as ld
from lowdim.engine import cache


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_store", tmp_path / "store")
    return tmp_path / "store"


def counted(fn):
    """fn wrapped to count its real calls in .calls, then cached."""
    @functools.wraps(fn)  # the cache binds the arguments to fn's signature
    def body(*args, **kwargs):
        inner.calls += 1
        return fn(*args, **kwargs)

    inner = ld.cached(body)
    inner.calls = 0
    return inner


def result(seeds: tuple, scale: float = 1.0, name: str = "a"):
    s = torch.tensor(seeds, dtype=torch.float64) * scale
    return {
        "acc": s.numpy() / 10,  # float64 array
        "params": {"w0": s.float().reshape(-1, 1), "b0": torch.zeros(len(seeds), dtype=torch.int64)},
        (3, "arm", True): (np.arange(3) < 2, np.float32(scale), None, [name, 0.1 + 0.2, 7, True]),
        "wall_s": 1e-300,
    }


def test_a_second_call_is_a_memo_hit_and_a_new_process_reads_the_disk(store):
    f = counted(result)
    first = f((0, 1, 2), 2.0)
    assert f((0, 1, 2), 2.0) is first and f.calls == 1
    assert len(list(store.rglob("*.npz"))) == 1
    f.cache_clear()  # what a new process sees: no memo, the same disk store
    again = f((0, 1, 2), 2.0)
    assert f.calls == 1
    assert again.keys() == first.keys() and list(again) == list(first)
    assert again["acc"].dtype == np.float64 and np.array_equal(again["acc"], first["acc"])
    for k, t in first["params"].items():
        assert again["params"][k].dtype == t.dtype and again["params"][k].device == t.device
        assert torch.equal(again["params"][k], t)
    flags, scalar, none, plain = again[(3, "arm", True)]
    assert flags.dtype == np.bool_ and type(scalar) is np.float32 and scalar == np.float32(2.0)
    assert none is None and plain == ["a", 0.1 + 0.2, 7, True] and type(plain[2]) is int
    assert again["wall_s"] == 1e-300


def test_without_a_store_it_is_an_in_memory_memo(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_store", cache._UNSET)
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    assert cache.store_dir() is None
    f = counted(result)
    f((1,))
    f((1,))
    assert f.calls == 1
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "env"))  # plain Python with the variable
    assert cache.store_dir() == tmp_path / "env"
    f((2,))
    assert len(list((tmp_path / "env").rglob("*.npz"))) == 1


@dataclasses.dataclass(frozen=True)
class Frozen:
    steps: int
    lr: float = 0.1


TEN_STEPS = ld.TrainConfig(steps=10)


@pytest.mark.parametrize("changed", [
    dict(seeds=(0, 1, 3)), dict(seeds=(0, 1)), dict(scale=2.0), dict(scale=1), dict(name="b"),
    dict(config=ld.TrainConfig(steps=11)), dict(config=ld.TrainConfig(steps=10, lr=0.01)),
    dict(config=Frozen(10)), dict(config=None), dict(flag=True), dict(flag=1),
])
def test_the_key_changes_with_every_argument_and_its_type(changed):
    def f(seeds, scale=1.0, name="a", config=TEN_STEPS, flag=False):
        return 0

    key = ld.cached(f).cache_key
    base = dict(seeds=(0, 1, 2), scale=1.0, name="a", config=ld.TrainConfig(steps=10), flag=False)
    assert key(**base) != key(**{**base, **changed})


def test_the_key_binds_arguments_as_the_call_would():
    key = ld.cached(lambda seeds, device="cpu", *, steps=3: 0).cache_key
    assert key((0, 1)) == key((0, 1), "cpu") == key(seeds=(0, 1), steps=3) == key((0, 1), steps=3)
    assert key((0, 1)) != key((0, 1), steps=4)


def test_the_key_changes_with_the_thread_count():
    key = ld.cached(result).cache_key
    before, n = key((0,)), torch.get_num_threads()
    try:
        torch.set_num_threads(n + 1)
        assert key((0,)) != before
    finally:
        torch.set_num_threads(n)
    assert key((0,)) == before


def _load(path, name="claim_module"):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLAIM_SRC = '''"""A claim module."""
import lowdim as ld

SCALE = 2  # the method
OTHER = 5


def _helper(seeds):
    return [SCALE * s for s in seeds]


@ld.cached
def run(seeds):
    """Train."""
    assert seeds, "need seeds"
    return _helper(seeds)


def test_other(claim):
    assert OTHER > 1, "a message"
'''

# Edits that change what `run` computes (it must retrain) and edits that do not (served from
# the store): the key covers the code `run` reaches, normalised (lowdim.engine.source).
RETRAIN = [("SCALE = 2", "SCALE = 3"), ("return [SCALE * s", "return [SCALE + s"),
           ("    return _helper(seeds)", "    seeds = seeds[::-1]\n    return _helper(seeds)")]
KEEP = [('"""Train."""', '"""Train the nets."""'), ("# the method", "# another comment"),
        ('"need seeds"', '"seeds, please"'), ("OTHER = 5", "OTHER = 6"),
        ('assert OTHER > 1, "a message"', "assert OTHER > 2"),
        ("def test_other(claim):", "def test_more(claim):\n    pass\n\n\ndef test_other(claim):"),
        ("    return _helper(seeds)", "\n    return _helper(seeds)  # layout"),
        ("OTHER = 5", "OTHER = 5\nimport math")]


@pytest.mark.parametrize("old, new", RETRAIN)
def test_an_edit_of_the_code_the_function_reaches_changes_its_key(tmp_path, old, new):
    path = tmp_path / "claim_module.py"
    path.write_text(CLAIM_SRC)
    first = _load(path).run.cache_key((0,))
    path.write_text(CLAIM_SRC.replace(old, new))
    assert _load(path).run.cache_key((0,)) != first
    path.write_text(CLAIM_SRC)
    assert _load(path).run.cache_key((0,)) == first


@pytest.mark.parametrize("old, new", KEEP)
def test_an_edit_the_function_does_not_reach_keeps_its_key(tmp_path, old, new):
    assert old in CLAIM_SRC
    path = tmp_path / "claim_module.py"
    path.write_text(CLAIM_SRC)
    first = _load(path).run.cache_key((0,))
    path.write_text(CLAIM_SRC.replace(old, new))
    assert _load(path).run.cache_key((0,)) == first


def test_a_function_defined_inside_another_keys_on_its_whole_file(tmp_path):
    src = "import lowdim as ld\n\ndef make():\n    return ld.cached(lambda seeds: list(seeds))\n"
    path = tmp_path / "claim_module.py"
    path.write_text(src)
    first = _load(path).make().cache_key((0,))
    path.write_text(src + "X = 1\n")
    assert _load(path).make().cache_key((0,)) != first


PYTESTER_CLAIM = '''
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("cache-edit", statement="-", source="-")
CALLS = []
FACTOR = 1


@ld.cached
def _run(seeds):
    CALLS.append(seeds)
    return [FACTOR * (s % 2 == 0) for s in seeds]


def test_even_seeds_are_even(claim):
    seeds = tuple(claim.seeds(6))
    flags = _run(seeds)
    claim.record(ld.proportion([True] * 6, threshold=0.1), trained=len(CALLS))
    assert True, "first message"
'''


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_a_claim_file_edit_retrains_only_when_the_cached_code_changes(pytester):
    """End to end through pytest's cache folder: a message edit is served from the store, a
    change of FACTOR retrains."""
    import json

    def run(src):
        pytester.makepyfile(test_edit=src)
        result = pytester.runpytest_subprocess("-n", "0", "--lowdim-report-dir", "out")
        result.assert_outcomes(passed=1)
        rows = json.loads((pytester.path / "out" / "claims.json").read_text())["rows"]
        return rows[0]["conditions"]["trained"]

    assert run(PYTESTER_CLAIM) == 1  # cold: trains
    assert run(PYTESTER_CLAIM.replace("first message", "another message")) == 0  # served
    assert run(PYTESTER_CLAIM.replace("FACTOR = 1", "FACTOR = 2")) == 1  # retrains


def test_the_key_covers_the_lowdim_sources_and_the_versions():
    described = cache._environment()
    for k in ("lowdim_source", "python", "torch", "numpy", "cpu_capability", "numerics"):
        assert described[k], k
    lib = Path(cache.__file__).resolve().parent.parent
    for room in cache.KEYED_ROOMS:  # a renamed room would silently stop counting
        assert (lib / room / "__init__.py").is_file(), room


@pytest.mark.parametrize("bad", [[0, 1], {"a": 1}, np.arange(3), torch.zeros(2), np.int64(3),
                                 object(), ld.Data(torch.zeros(1, 2, 1), torch.zeros(1, 2))])
def test_arguments_that_are_not_plain_are_refused(store, bad):
    f = counted(lambda seeds: 0)
    with pytest.raises(TypeError, match="argument seeds"):
        f(bad)
    assert f.calls == 0


def test_a_dataclass_that_is_not_frozen_is_refused(store):
    @dataclasses.dataclass
    class Loose:
        steps: int

    with pytest.raises(TypeError, match="not frozen"):
        ld.cached(lambda config: 0)(Loose(1))


@pytest.mark.parametrize("value", [object(), {"model": ld.MLP((1, 2, 1))}, np.array([None]),
                                   lambda: 0, {"bad": {1, 2}}, {torch.zeros(1): 1}])
def test_results_that_cannot_be_stored_are_refused_with_or_without_a_store(value, monkeypatch,
                                                                             tmp_path):
    for where in (None, tmp_path):
        monkeypatch.setattr(cache, "_store", where)
        with pytest.raises(TypeError, match="lowdim.cached: the result"):
            ld.cached(lambda x: value)(1)
        assert not list(tmp_path.rglob("*.npz"))


def _entry(store):
    (path,) = store.rglob("*.npz")
    return path


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other key", "no meta"])
def test_a_damaged_entry_is_recomputed_and_overwritten(store, damage):
    f = counted(result)
    f((5, 6))
    path = _entry(store)
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "other key":
        f((7, 8))
        other = next(p for p in store.rglob("*.npz") if p != path)
        path.write_bytes(other.read_bytes())
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a0.npy", b"")
    f.cache_clear()
    calls = f.calls
    fresh = f((5, 6))
    assert f.calls == calls + 1 and np.array_equal(fresh["acc"], result((5, 6))["acc"])
    f.cache_clear()
    f((5, 6))
    assert f.calls == calls + 1  # overwritten with a good entry


class Boom:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ["LOWDIM_TEST_MARK"],))


def test_nothing_read_from_the_store_is_unpickled(store, tmp_path, monkeypatch):
    mark = tmp_path / "unpickled"
    monkeypatch.setenv("LOWDIM_TEST_MARK", str(mark))
    f = counted(result)
    f((1,))
    path = _entry(store)
    with np.load(path, allow_pickle=False) as z:  # a plain entry loads without pickle
        meta = json.loads(z[cache._META].tobytes())
    assert meta["key"] == path.stem and meta["described"]["arguments"]["seeds"]
    arrays = {"a0": np.array([Boom()], dtype=object)}
    with open(path, "wb") as fh:  # an entry that holds a pickled object instead of numbers
        np.savez(fh, **{cache._META: np.frombuffer(json.dumps(meta).encode(), np.uint8)}, **arrays)
    assert b"posix" in path.read_bytes() or b"system" in path.read_bytes()
    with pytest.raises(ValueError, match="allow_pickle"):
        np.load(path, allow_pickle=False)["a0"]
    f.cache_clear()
    f((1,))
    assert f.calls == 2 and not mark.exists()  # recomputed, and the object never came to life


def test_an_entry_is_written_atomically(store, monkeypatch):
    f = counted(result)

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache.os, "replace", fail)
    with pytest.warns(RuntimeWarning, match="cannot write"):
        value = f((3,))
    assert np.array_equal(value["acc"], result((3,))["acc"])  # the run goes on
    assert not list(store.rglob("*")) or all(p.is_dir() for p in store.rglob("*"))  # no debris
    monkeypatch.undo()
    cache._warned.clear()


CACHED_CLAIM = '''
import os
import numpy as np
import lowdim as ld


@ld.cached
def expensive(seeds: tuple):
    with open(os.environ["LOWDIM_TEST_RUNS"], "a") as f:
        f.write("ran\\n")
    return np.array(seeds) * 2.0


def test_uses_it(claim):
    assert expensive(tuple(claim.seeds(3))).tolist() == [0.0, 2.0, 4.0]
    claim.record(ld.proportion([True] * 3, threshold=0.5))
'''


def _session(pytester, runs, *args, subprocess=False) -> int:
    """Run the cached claim file; how often `expensive` has run in all sessions so far."""
    common = ("-p", "no:randomly", "-p", "no:hypothesispytest", "--lowdim-no-report", *args)
    if subprocess:  # xdist starts its workers from a fresh process
        result = pytester.runpytest_subprocess(*common, timeout=300)
    else:
        result = pytester.runpytest_inprocess(*common)
    result.assert_outcomes(passed=1)
    return runs.read_text().count("ran") if runs.exists() else 0


def test_pytest_runs_share_the_store_and_the_clear_options_empty_it(pytester, monkeypatch):
    runs = pytester.path / "runs.txt"
    monkeypatch.setenv("LOWDIM_TEST_RUNS", str(runs))
    pytester.makepyfile(test_cached=CACHED_CLAIM)

    def ran(*args) -> int:
        return _session(pytester, runs, *args)

    assert ran() == 1
    assert list((pytester.path / ".pytest_cache" / "d" / "lowdim-runs").rglob("*.npz"))
    assert ran() == 1  # the second session reads the entry
    assert ran("--lowdim-cache-clear") == 2
    assert ran() == 2
    assert ran("--cache-clear") == 3  # pytest's own option clears it too
    assert ran("--lowdim-no-cache") == 4
    assert ran("-p", "no:cacheprovider") == 5  # no pytest cache folder: memory only
    assert ran() == 5


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_under_xdist_the_controller_clears_before_the_workers_start(pytester, monkeypatch):
    runs = pytester.path / "runs.txt"
    monkeypatch.setenv("LOWDIM_TEST_RUNS", str(runs))
    pytester.makepyfile(test_cached=CACHED_CLAIM)
    assert _session(pytester, runs) == 1
    # The old entry is gone before the worker asks for it, and the worker's new one stays.
    assert _session(pytester, runs, "-n", "2", "--lowdim-cache-clear", subprocess=True) == 2
    assert _session(pytester, runs) == 2


def test_reads_from_the_store_count_the_seconds_the_entry_took_to_compute(store, monkeypatch):
    ticks = iter([100.0, 102.5])  # the computation's start and end on the cache's clock
    monkeypatch.setattr(cache.time, "perf_counter", lambda: next(ticks))
    f = counted(result)
    before = cache.served_seconds()
    f((0, 1), 1.0)
    assert cache.served_seconds() == before  # computed here: nothing served
    f((0, 1), 1.0)
    assert cache.served_seconds() == before  # an in-memory repeat is free either way
    f.cache_clear()
    f((0, 1), 1.0)
    assert f.calls == 1 and cache.served_seconds() == before + 2.5


SLOW_CACHED_CLAIM = '''
import time
import pytest
import lowdim as ld

pytestmark = pytest.mark.claim("slow-cache", statement="s", source="t")


@ld.cached
def expensive(n: int):
    time.sleep(0.6)
    return n


def test_uses_it(claim):
    assert expensive(3) == 3
    claim.record(ld.proportion([True] * 3, threshold=0.5))
'''


def test_a_cached_run_reports_the_training_it_read_as_cached_s(pytester):
    """The second run's row takes ~0 s but records the 0.6 s it did not train (cached_s), which
    the plugin's longest-first order adds back (plugin._expected_file_seconds)."""
    pytester.makepyfile(test_slow=SLOW_CACHED_CLAIM)
    args = ("-p", "no:randomly", "-p", "no:hypothesispytest", "--lowdim-report-dir=out")
    rows = []
    for _ in range(2):
        pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)
        rows.append(json.loads((pytester.path / "out" / "claims.json").read_text())["rows"][0])
    cold, warm = rows
    assert cold["duration_s"] >= 0.6 and cold["cached_s"] == 0.0
    assert warm["duration_s"] < 0.6 <= warm["cached_s"] < cold["duration_s"] + 0.01


def _rewrite(path, meta=None, **arrays):
    """The entry at path with its description (meta) and arrays replaced as given."""
    with np.load(path, allow_pickle=False) as z:
        old_meta = json.loads(z[cache._META].tobytes())
        old = {name: z[name] for name in z.files if name != cache._META}
    meta = old_meta if meta is None else meta
    with open(path, "wb") as fh:
        np.savez(fh, **{cache._META: np.frombuffer(json.dumps(meta).encode(), np.uint8)},
                 **{**old, **arrays})
    return old_meta, old


def test_an_entry_describes_the_structure_of_every_leaf(store):
    f = counted(result)
    f((5, 6))
    with np.load(_entry(store), allow_pickle=False) as z:
        meta = json.loads(z[cache._META].tobytes())
        arrays = {name: z[name] for name in z.files if name != cache._META}
    assert meta["layout"] == cache.LAYOUT and meta["tree_sha256"]
    leaves = {}

    def walk(node):
        if "ndarray" in node or "tensor" in node or "npscalar" in node:
            leaves[next(node[k] for k in ("ndarray", "tensor", "npscalar") if k in node)] = node
        for child in node.get("tuple", []) + node.get("list", []):
            walk(child)
        for _, child in node.get("dict", []):
            walk(child)

    walk(meta["tree"])
    assert set(leaves) == set(arrays)
    for name, node in leaves.items():
        assert node["shape"] == list(arrays[name].shape) and node["stored"] == arrays[name].dtype.str
    w0 = next(n for n in leaves.values() if n.get("dtype") == "float32")
    assert (w0["shape"], w0["device"], w0["stored"]) == ([2, 1], "cpu", "<f4")


# Edits of a stored entry that leave its description as it was: the entry must not be served.
TAMPER = {
    "values": lambda a: a + 1.0,
    "shape": lambda a: a.reshape(1, -1),
    "dtype": lambda a: a.astype(np.float32),
    "a value of the same dtype and shape": lambda a: np.where(np.arange(a.size) == 0, 99.0, a),
}


@pytest.mark.parametrize("how", list(TAMPER))
def test_a_tampered_array_is_recomputed_not_served(store, how):
    f = counted(result)
    first = f((5, 6))
    path = _entry(store)
    with np.load(path, allow_pickle=False) as z:  # the float64 "acc" array: a0
        acc = z["a0"]
    assert np.array_equal(acc, first["acc"])
    _rewrite(path, a0=TAMPER[how](acc))
    f.cache_clear()
    again = f((5, 6))
    assert f.calls == 2 and again["acc"].dtype == np.float64
    assert np.array_equal(again["acc"], first["acc"])
    f.cache_clear()
    f((5, 6))
    assert f.calls == 2  # the recomputed entry was written over the tampered one


@pytest.mark.parametrize("how", ["missing array", "extra array", "python leaf", "tree",
                                 "description", "older layout", "tensor dtype"])
def test_an_entry_that_differs_from_its_description_is_recomputed(store, how):
    f = counted(result)
    f((5, 6))
    path = _entry(store)
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z[cache._META].tobytes())
        names = [n for n in z.files if n != cache._META]
    if how == "missing array":
        with np.load(path, allow_pickle=False) as z:
            arrays = {n: z[n] for n in names[:-1]}
        with open(path, "wb") as fh:
            np.savez(fh, **{cache._META: np.frombuffer(json.dumps(meta).encode(), np.uint8)},
                     **arrays)
    elif how == "extra array":
        _rewrite(path, a99=np.zeros(3))
    else:
        if how == "python leaf":  # "wall_s": 1e-300 -> 1.0, the digest left as it was
            text = json.dumps(meta["tree"]).replace("1e-300", "1.0")
            assert text != json.dumps(meta["tree"])
            meta["tree"] = json.loads(text)
        elif how == "tree":
            meta["tree"]["dict"].pop()
        elif how == "description":
            meta["described"]["threads"] = -1
        elif how == "older layout":
            meta.pop("layout")
        else:  # the tensor comes back as another dtype than the one described
            text = json.dumps(meta["tree"]).replace('"dtype": "float32"', '"dtype": "int32"')
            meta["tree"] = json.loads(text)
            meta["tree_sha256"] = cache._sha256_json(meta["tree"])
        _rewrite(path, meta)
    f.cache_clear()
    again = f((5, 6))
    assert f.calls == 2 and again["wall_s"] == 1e-300
    assert again["params"]["w0"].dtype == torch.float32
