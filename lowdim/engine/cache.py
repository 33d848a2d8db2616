"""Run cache: a claim's training results, computed once and kept on disk.

    @ld.cached
    def _run(seeds: tuple[int, ...], device: str, activation: str, key: str):
        ...  # train; return arrays / tensors / numbers / strings in lists, tuples, dicts

`cached` is a drop-in for the module-level `functools.cache` a claim file shares its training
with: an in-memory memo (each call is computed once per process, as before) plus a disk store,
so a re-run with nothing changed, another xdist worker or the next session reads the result
instead of training again.

The key is a sha256 over everything that determines the result: the function's module and
qualified name; the code it reaches in the file that defines it (normalised: docstrings,
comments, layout, assertion messages and tests it does not call do not count); the source of
lowdim's engine and stats rooms (KEYED_ROOMS: the code a cached function can reach); the call's
arguments (bound to the signature, defaults applied; only plain values are allowed: None,
bool, int, float, str, tuples of them and frozen dataclasses such as TrainConfig or MLP); the
versions of python, torch, numpy, scipy and scikit-learn; torch's intra-op thread count; the CPU's
vector capability and, for a CUDA run, the GPU's name; a --lowdim-perturb perturbation (an entry
keeps what it reached: lowdim.engine.perturb). Change any of them and the entry is not found.

An entry is one .npz file: the arrays, plus a JSON description of the value's structure (the
tree of containers; at every array leaf its shape, numpy dtype, sha256 of its bytes and, for a
tensor, its torch dtype and device) and the full key; written to a temporary file and renamed
into place (readers see the old entry or the new one, never half of one), read with
allow_pickle=False (nothing read is unpickled or executed). An entry is served only when it
matches its own description: one that cannot be read, whose key differs, or whose arrays'
values, shapes or dtypes (or whose tree) differ from what the description says is recomputed
and overwritten. The checks catch damage and mistakes, not an attacker: the store is trusted
local state (whoever can write it could write a matching description), and CI does not
restore it.

Where the store lives: under pytest the plugin puts it in pytest's cache folder
(.pytest_cache/d/lowdim-runs), so `pytest --cache-clear` clears it too; `--lowdim-cache-clear`
clears only it, `--lowdim-no-cache` turns the disk store off. Outside pytest the memo is
in-memory only unless the environment variable LOWDIM_CACHE_DIR names a folder.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import inspect
import io
import json
import os
import platform
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import kernels, perturb
from .source import normalised_source, reachable_source

FORMAT = 1  # bump when the key changes (every entry is then missed)
LAYOUT = 2  # bump when the file layout changes (an entry of another layout is recomputed)
ENV_VAR = "LOWDIM_CACHE_DIR"
_META = "__lowdim_meta__"  # the npz member holding the JSON (uint8 bytes)
_UNSET = object()
# The rooms whose code runs inside a cached function: the engine (training) and stats (a claim
# may decide inside one). Their sources are part of every key; the plugin, report, regress and
# CLI only run before or after training, so editing them never retrains.
KEYED_ROOMS = ("engine", "stats")
_store: Any = _UNSET  # Path, None (no disk store) or _UNSET (read ENV_VAR)
_warned: set[str] = set()
_served = [0.0]  # seconds of computing that this process read from the store instead


def served_seconds() -> float:
    """Seconds the entries this process read from the disk store took to compute (each read
    counted once; in-memory repeats are free either way). The pytest plugin records a test's
    share as its row's `cached_s`, so a cached run still tells how long a cold one takes."""
    return _served[0]


def set_store(directory: str | os.PathLike | None) -> Any:
    """Use `directory` as the disk store (None: memory only). Returns the previous setting, to
    hand back to `restore_store` (the plugin does so at unconfigure)."""
    global _store
    previous = _store
    _store = None if directory is None else Path(directory)
    return previous


def restore_store(previous: Any) -> None:
    global _store
    _store = previous


def store_dir() -> Path | None:
    """The folder entries are written to, or None when the disk store is off."""
    if _store is _UNSET:
        env = os.environ.get(ENV_VAR)
        return Path(env) if env else None
    return _store


def clear_store(directory: str | os.PathLike) -> None:
    """Delete every entry under `directory` (the folder itself goes too)."""
    shutil.rmtree(directory, ignore_errors=True)


def _plain(value: Any, where: str) -> Any:
    """A JSON form of an argument that fixes its value and type; TypeError for anything else."""
    t = type(value)
    if value is None or t in (bool, int, str):
        return value
    if t is float:
        return {"float": value.hex()}  # exact, and distinct from an int of the same value
    if t is tuple:
        return {"tuple": [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if not t.__dataclass_params__.frozen:
            raise TypeError(f"lowdim.cached: argument {where} is a dataclass {t.__name__} that "
                            "is not frozen; make it @dataclass(frozen=True) so it cannot change")
        return {"dataclass": f"{t.__module__}.{t.__qualname__}",
                "fields": {f.name: _plain(getattr(value, f.name), f"{where}.{f.name}")
                           for f in dataclasses.fields(value)}}
    raise TypeError(
        f"lowdim.cached: argument {where} is a {t.__name__} ({value!r:.60}); a cached function "
        "takes only None, bool, int, float, str, tuples of them and frozen dataclasses (pass a "
        "tuple instead of a list, a seed list as tuple(seeds), a config as a frozen dataclass)")


def _cuda_names(args: Any) -> list[str]:
    # A CUDA run's numbers depend on the GPU model: name it when an argument asks for CUDA.
    text = json.dumps(args)
    if '"cuda' not in text or not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def _environment() -> dict:
    """What does not change during a process (the thread count may: it is read per call)."""
    lib = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for room in KEYED_ROOMS:
        for path in sorted((lib / room).rglob("*.py")):
            h.update(path.relative_to(lib).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return {
        "lowdim_source": h.hexdigest(),
        "python": platform.python_version(), "machine": platform.machine(),
        "torch": torch.__version__, "numpy": np.__version__,
        "scipy": _version("scipy"), "scikit-learn": _version("scikit-learn"),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_kernels": kernels.cpu_kernels(), "numerics": kernels.fingerprint(),
    }


def _source_hash(fn: Callable) -> str | None:
    """sha256 of the code fn depends on in the file that defines it: the file normalised and
    restricted to what fn reaches (lowdim.engine.source.reachable_source), so that editing a
    docstring, a comment, an assertion message or a test that fn does not call keeps its
    entries. A function defined inside another (or a lambda) covers the whole normalised file;
    a file that does not parse, its bytes. None when there is no such file (then the disk store
    is skipped for fn: nothing would notice an edit)."""
    try:
        path = inspect.getsourcefile(fn)
        if not path:
            return None
        data = Path(path).read_bytes()
    except (TypeError, OSError):
        return None
    top = fn.__qualname__.split(".")[0]
    try:
        text = data.decode("utf-8")
        if "<locals>" in fn.__qualname__ or not top.isidentifier():
            code = normalised_source(text)
        else:
            try:
                code = reachable_source(text, top)
            except ValueError:  # not bound by a top-level def (e.g. f = cached(g))
                code = normalised_source(text)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _encode(value: Any, arrays: dict[str, np.ndarray] | None, where: str) -> Any:
    """JSON description of value; arrays (when given) receives the array leaves."""
    def leaf(kind: str, a: np.ndarray, **more) -> dict:
        if a.dtype.hasobject:
            raise TypeError(f"lowdim.cached: the result at {where} is an object array; only "
                            "numeric, bool and string arrays can be stored")
        if arrays is None:  # checking only
            return {kind: "a0", **more}
        name = f"a{len(arrays)}"
        arrays[name] = a
        return {kind: name, **more, **_described(a)}

    t = type(value)
    if value is None or t in (bool, int, float, str):
        return {"py": value}
    if t in (tuple, list):
        return {t.__name__: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if t is dict:
        for k in value:  # plain keys only (a tensor key would hash by identity)
            try:
                _plain(k, "key")
            except TypeError:
                raise TypeError(f"lowdim.cached: the result at {where} has a key of type "
                                f"{type(k).__name__}; dict keys must be None, bool, int, float, "
                                "str or tuples of them") from None
        return {"dict": [[_encode(k, None, f"{where} key"), _encode(v, arrays, f"{where}[{k!r}]")]
                         for k, v in value.items()]}
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided:
            raise TypeError(f"lowdim.cached: the result at {where} is a {value.layout} tensor; "
                            "only dense tensors can be stored")
        dtype = str(value.dtype).removeprefix("torch.")
        bits = value.detach()
        if value.dtype == torch.bfloat16:  # numpy has no bfloat16: keep its bits
            bits = bits.view(torch.int16)
        if arrays is None:  # checking only: convert no data
            bits = bits.reshape(-1)[:0]
        try:
            a = bits.cpu().numpy()
        except TypeError as e:
            raise TypeError(f"lowdim.cached: the tensor at {where} ({dtype}) has no numpy "
                            f"equivalent to store it as: {e}") from None
        return leaf("tensor", a, dtype=dtype, device=str(value.device))
    if isinstance(value, np.ndarray):
        return leaf("ndarray", value)
    if isinstance(value, np.generic):
        return leaf("npscalar", np.asarray(value))
    raise TypeError(
        f"lowdim.cached: the result at {where} is a {t.__name__}, which the run cache cannot "
        "store; return arrays, tensors, numbers, strings, None in tuples, lists and dicts "
        "(e.g. result.params and accuracies instead of a TrainResult or a model)")


_KINDS = ("py", "tuple", "list", "dict", "ndarray", "npscalar", "tensor")


def _described(a: np.ndarray) -> dict:
    """What an array leaf's description says of it: shape, numpy dtype, sha256 of its bytes."""
    return {"shape": list(a.shape), "stored": a.dtype.str,
            "sha256": hashlib.sha256(a.tobytes()).hexdigest()}


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _check(meta: dict, key: str, arrays: dict[str, np.ndarray]) -> None:
    """ValueError unless the entry is what its description says: this layout and key, the key
    its description hashes to, its tree the tree's digest, and its arrays exactly the tree's
    leaves, each with the shape, dtype and bytes its leaf names."""
    leaves, stack = {}, [meta["tree"]]
    while stack:  # the tree's array leaves: {name: what it says of the array}
        node = stack.pop()
        kind = next(k for k in _KINDS if k in node)
        if kind in ("ndarray", "npscalar", "tensor"):
            leaves[node[kind]] = {k: node.get(k) for k in ("shape", "stored", "sha256")}
        elif kind == "dict":
            stack.extend(v for _, v in node[kind])
        elif kind != "py":  # tuple, list
            stack.extend(node[kind])
    if not (meta.get("layout") == LAYOUT and meta.get("format") == FORMAT
            and meta.get("key") == key == _sha256_json(meta.get("described"))
            and meta.get("tree_sha256") == _sha256_json(meta["tree"])
            and leaves == {name: _described(a) for name, a in arrays.items()}):
        raise ValueError("the entry is not what its description says")


def _decode(node: Any, arrays) -> Any:
    kind = next(k for k in _KINDS if k in node)  # the JSON is written with sorted keys
    body = node[kind]
    if kind == "py":
        return body
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in body)
    if kind == "list":
        return [_decode(v, arrays) for v in body]
    if kind == "dict":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in body}
    if kind == "ndarray":
        return arrays[body]
    if kind == "npscalar":
        return arrays[body][()]
    if kind == "tensor":
        a, dtype = arrays[body], node["dtype"]
        t = torch.from_numpy(np.array(a))  # a writable copy torch may own
        t = t.view(torch.bfloat16) if dtype == "bfloat16" else t
        if str(t.dtype).removeprefix("torch.") != dtype:
            raise ValueError(f"stored dtype {t.dtype} != {dtype}")
        return t.to(node["device"])
    raise AssertionError(kind)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write(path: Path, key: str, described: dict, value: Any, compute_s: float) -> None:
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(value, arrays, "result")
    meta = json.dumps({"format": FORMAT, "layout": LAYOUT, "key": key, "described": described,
                       "tree": tree, "tree_sha256": _sha256_json(tree),
                       "compute_s": round(compute_s, 3), **perturb.stored(key)},
                      sort_keys=True).encode()
    buf = io.BytesIO()
    np.savez(buf, **{_META: np.frombuffer(meta, dtype=np.uint8)}, **arrays)
    _atomic_write_bytes(path, buf.getvalue())


def _read(path: Path, key: str) -> tuple[Any, float]:
    """(the stored value, the seconds it took to compute); raises (anything) when the entry is
    missing, damaged, not this key or not what its description says (`_check`)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z[_META].tobytes().decode())
        arrays = {name: z[name] for name in z.files if name != _META}
    _check(meta, key, arrays)
    perturb.served(key, meta.get("perturbed"))
    compute_s = meta.get("compute_s")
    return _decode(meta["tree"], arrays), (float(compute_s) if isinstance(
        compute_s, (int, float)) and compute_s >= 0 else 0.0)


def _warn_once(what: str, error: BaseException) -> None:
    if what not in _warned:
        _warned.add(what)
        warnings.warn(f"lowdim.cached: {what}: {error}; the run goes on without storing it",
                      RuntimeWarning, stacklevel=3)


def cached(fn: Callable) -> Callable:
    """Compute fn once per distinct call and keep the result in memory and in the disk store.

    The arguments must be plain (see the module docstring) and the result a tree of lists,
    tuples and dicts (keys: plain values) with None, bool, int, float, str, numpy arrays or
    scalars and torch tensors at the leaves; tensors come back with their dtype on their device.
    `f.cache_clear()` forgets the in-memory results; `f.cache_key(*args, **kwargs)` is the key.
    """
    signature = inspect.signature(fn)
    name = f"{fn.__module__}.{fn.__qualname__}"
    source = _source_hash(fn)
    folder = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    memo: dict[str, Any] = {}

    def describe(args, kwargs) -> dict:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        plain = {}
        for k, v in bound.arguments.items():
            if signature.parameters[k].kind is inspect.Parameter.VAR_KEYWORD:  # **kwargs
                plain[k] = {name: _plain(v[name], name) for name in sorted(v)}
            else:
                plain[k] = _plain(v, k)
        return {"format": FORMAT, "function": name, "source": source, "arguments": plain,
                "threads": torch.get_num_threads(), "cuda": _cuda_names(plain),
                **_environment(), **perturb.key_part()}

    def cache_key(*args, **kwargs) -> str:
        text = json.dumps(describe(args, kwargs), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        described = describe(args, kwargs)
        key = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
        if key in memo:
            perturb.served(key)
            return memo[key]
        store = store_dir() if source is not None else None
        path = store / folder / f"{key}.npz" if store is not None else None
        if path is not None and path.is_file():
            try:
                memo[key], compute_s = _read(path, key)
                _served[0] += compute_s
                return memo[key]
            except Exception:  # damaged, truncated, another key: recompute and overwrite
                pass
        start = time.perf_counter()
        with perturb.computing(key):
            value = fn(*args, **kwargs)
        compute_s = time.perf_counter() - start
        if path is None:
            _encode(value, None, "result")  # the same refusals with or without a store
        else:
            try:
                _write(path, key, described, value, compute_s)
            except OSError as e:
                _warn_once(f"cannot write to {store}", e)
        memo[key] = value
        return value

    wrapper.cache_clear = memo.clear
    wrapper.cache_key = cache_key
    return wrapper
