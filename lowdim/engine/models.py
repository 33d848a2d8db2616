"""Models batched over seeds: parameters are plain tensors with the seed axis first.

A batched model is anything with
    init(seeds, *, key, dtype, device) -> dict[str, Tensor]   # every tensor (S, ...)
    forward(params, x, masks=None) -> Tensor                   # x (S, N, d) -> (S, N, out)
    dropout_shapes(n) -> list[tuple[int, ...]]                 # per-step dropout masks, per seed
Our MLP is the fast path (one baddbmm per layer for all seeds); `TorchModule` adapts a user's
plain `torch.nn.Module` factory through torch.func (stack_module_state + vmap).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from . import perturb
from .seeding import check_seeds, torch_generator

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "identity": lambda z: z,
    "sin": torch.sin,
    "square": torch.square,
    # torch.sign has zero gradient everywhere, as tf.sign had: nothing flows through it.
    "sign": torch.sign,
}

def _real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


PARAMETRIZATIONS = ("standard", "ntk", "mean-field")
INIT_KINDS = ("torch", "xavier", "he", "normal", "uniform", "constant", "zeros")


@dataclass(frozen=True)
class Init:
    """An initialisation rule for one kind of tensor (weights or biases).

    kind      one of INIT_KINDS:
              torch    PyTorch nn.Linear default: U(+-1/sqrt(fan_in)) for weights and biases
              xavier   TF glorot_uniform: U(+-sqrt(6/(fan_in+fan_out))); on a bias of size n,
                       as TF applied it, U(+-sqrt(3/n))
              he       N(0, 2/fan_in) (on a bias: zeros)
              normal   N(0, value^2)           uniform  U(+-value)
              constant every entry = value     zeros    every entry = 0
    value     sigma / half-width / constant, for normal, uniform, constant
    """

    kind: str = "torch"
    value: float = 0.0

    def __post_init__(self):
        if not isinstance(self.kind, str) or self.kind not in INIT_KINDS:
            raise ValueError(f"Init.kind: got {self.kind!r}; allowed: {', '.join(INIT_KINDS)}")
        if not _real(self.value) or not math.isfinite(self.value):
            raise ValueError(f"Init.value: got {self.value!r}; need a finite number")
        if self.kind in ("normal", "uniform") and not self.value > 0:
            raise ValueError(f"Init.value: {self.kind} needs a scale > 0, got {self.value}")

    def sample(self, shape, *, fan_in: int, fan_out: int, bias: bool, generator, dtype):
        """One seed's tensor of `shape`, drawn from `generator`."""
        k = self.kind
        if k == "zeros" or (k == "he" and bias):
            return torch.zeros(shape, dtype=dtype)
        if k == "constant":
            return torch.full(shape, float(self.value), dtype=dtype)
        if k in ("normal", "he"):
            std = self.value if k == "normal" else math.sqrt(2.0 / fan_in)
            return torch.randn(shape, generator=generator, dtype=dtype) * std
        if k == "torch":
            a = 1.0 / math.sqrt(fan_in)
        elif k == "xavier":
            n = shape[-1]
            a = math.sqrt(3.0 / n) if bias else math.sqrt(6.0 / (fan_in + fan_out))
        else:  # uniform
            a = self.value
        return (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * a


def _default_bias_init(weight_init: Init) -> Init:
    # The rule each scheme applies to biases when not told otherwise.
    return Init("zeros") if weight_init.kind in ("he",) else weight_init


def runs_as_row(w: torch.Tensor) -> bool:
    """Does affine compute h @ w as the row w^T h^T (one output unit, more than one input)?
    lowdim.backprop takes that row's weight gradient, so both must agree."""
    return w.shape[2] == 1 and w.shape[1] > 1


def affine(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """h @ w (+ b) for stacked seeds: (S, N, in) @ (S, in, out) (+ (S, 1, out)).

    Two shapes skip the plain bmm / baddbmm because MKL runs them slowly (timings in
    docs/speed.md):
    - one input feature (a 1-D input's first layer): an outer product, each element one
      multiplication, then one addition of the bias. The element-wise h * w + b gives bmm /
      baddbmm's numbers bit for bit (tests/test_backprop.py checks float32 and float64 over
      shapes that reach torch's small-matrix loop and MKL) at a fraction of the cost. Not under
      autograd, whose gradients would then be a broadcast's sums instead of bmm's backward.
    - one output unit: a matrix-vector product, which MKL runs far slower as a column
      (S, N, H) @ (S, H, 1) than as the row (S, 1, H) @ (S, H, N). It is computed as that row,
      transposed back: the same dot products, summed in MKL's row kernel's order, so the last bits differ
      from the column's. Autograd through it takes the row's backward too, and lowdim.backprop
      does the same (its gradients stay autograd's, bit for bit)."""
    if w.shape[1] == 1 and not (torch.is_grad_enabled() and (
            h.requires_grad or w.requires_grad or (b is not None and b.requires_grad))):
        z = h * w
        return z if b is None else z.add_(b)
    if runs_as_row(w):
        row = (torch.bmm(w.transpose(1, 2), h.transpose(1, 2)) if b is None
               else torch.baddbmm(b, w.transpose(1, 2), h.transpose(1, 2)))  # (S, 1, N)
        return row.transpose(1, 2)
    return torch.bmm(h, w) if b is None else torch.baddbmm(b, h, w)


@dataclass(frozen=True)
class MLP:
    """A fully connected net batched over seeds.

    sizes        (d_in, h_1, ..., h_k, d_out): layer widths, input and output included
    activation   hidden activation, a key of ACTIVATIONS
    out_activation  activation of the output layer ("identity": linear outputs / logits; seed
                 003's chain has a sigmoid output neuron)
    bias         every layer has a bias (False: a bias-free net, as in seed 002)
    weight_init  rule for weights; bias_init rule for biases (None: the scheme's own rule)
    tie_hidden   one hidden->hidden layer shared by every hidden->hidden step (seed 001 exp 2:
                 sizes (1, 10, 10, 10, 2) with tie_hidden applies one 10x10 layer twice)
    dropout      drop probability on every hidden layer during training (inverted: kept units
                 are scaled by 1/(1-p), as seed 002's mask*2 at p=0.5)
    parametrization  a fixed multiplier on every layer's weights in the forward pass, the
                 parameters themselves drawn by weight_init (PARAMETRIZATIONS):
                 "standard"   h @ W + b (no multiplier; the default)
                 "ntk"        h @ W / sqrt(fan_in) + b on every layer (Jacot et al. 2018; with
                              weight_init Init("normal", 1.0))
                 "mean-field" as "ntk", but the output layer h @ W / fan_in + b
    """

    sizes: tuple[int, ...]
    activation: str = "relu"
    out_activation: str = "identity"
    bias: bool = True
    weight_init: Init = field(default_factory=Init)
    bias_init: Init | None = None
    tie_hidden: bool = False
    dropout: float = 0.0
    parametrization: str = "standard"

    def __post_init__(self):
        sizes = self.sizes
        if (isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__")
                or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                           for s in sizes)):
            raise ValueError(f"MLP.sizes: got {sizes!r}; need a sequence of ints "
                             "(d_in, h_1, ..., d_out)")
        object.__setattr__(self, "sizes", tuple(int(s) for s in sizes))
        if len(self.sizes) < 2 or any(s < 1 for s in self.sizes):
            raise ValueError(f"MLP.sizes: got {self.sizes}; need (d_in, ..., d_out), all >= 1")
        for name in ("activation", "out_activation"):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in ACTIVATIONS:
                raise ValueError(
                    f"MLP.{name}: got {value!r}; allowed: {', '.join(ACTIVATIONS)}"
                )
        if not _real(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"MLP.dropout: got {self.dropout!r}; need 0 <= dropout < 1")
        for name in ("bias", "tie_hidden"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"MLP.{name}: got {getattr(self, name)!r}; need True or False")
        if not isinstance(self.weight_init, Init):
            raise ValueError(f"MLP.weight_init: got {self.weight_init!r}; need a lowdim.Init")
        if self.bias_init is not None and not isinstance(self.bias_init, Init):
            raise ValueError(f"MLP.bias_init: got {self.bias_init!r}; need a lowdim.Init or None")
        if (not isinstance(self.parametrization, str)
                or self.parametrization not in PARAMETRIZATIONS):
            raise ValueError(f"MLP.parametrization: got {self.parametrization!r}; allowed: "
                             f"{', '.join(PARAMETRIZATIONS)}")
        if self.tie_hidden and len(set(self.sizes[1:-1])) > 1:
            raise ValueError(f"MLP.tie_hidden: hidden widths must be equal, got {self.sizes[1:-1]}")

    # -- structure -------------------------------------------------------------------------
    def layer_names(self) -> list[str]:
        """The parameter-name suffix each layer uses ("0", "1", ...; tied layers share one)."""
        n = len(self.sizes) - 1
        if not self.tie_hidden or n <= 2:
            return [str(i) for i in range(n)]
        return ["0"] + ["1"] * (n - 2) + [str(n - 1)]

    def weight_scales(self) -> list[float]:
        """The forward pass's multiplier on each layer's weights (see parametrization)."""
        fans = self.sizes[:-1]
        if self.parametrization == "standard":
            return [1.0] * len(fans)
        scales = [1.0 / math.sqrt(f) for f in fans]
        if self.parametrization == "mean-field":
            scales[-1] = 1.0 / fans[-1]
        return scales

    def n_params(self) -> int:
        """Parameters of one seed's net (tied layers counted once)."""
        seen, total = set(), 0
        for name, (i, o) in zip(self.layer_names(), zip(self.sizes[:-1], self.sizes[1:])):
            if name not in seen:
                seen.add(name)
                total += i * o + (o if self.bias else 0)
        return total

    def dropout_shapes(self, n: int) -> list[tuple[int, ...]]:
        """Per-seed mask shape of each hidden layer for a batch of n points."""
        if self.dropout == 0.0:
            return []
        return [(n, h) for h in self.sizes[1:-1]]

    # -- parameters --------------------------------------------------------------------------
    def init(
        self,
        seeds: Sequence[int],
        *,
        key: str,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> dict[str, torch.Tensor]:
        """Initial parameters: w<i> (S, fan_in, fan_out), b<i> (S, 1, fan_out).

        Seed i draws from its own generator (purpose "init"), layer by layer, weight then bias.
        """
        seeds = check_seeds(seeds)
        if (wider := perturb.widened(self)) is not self:  # --lowdim-perturb width=xF
            return wider.init(seeds, key=key, dtype=dtype, device=device)
        bias_init = self.bias_init or _default_bias_init(self.weight_init)
        per_seed: list[dict[str, torch.Tensor]] = []
        for s in seeds:
            g = torch_generator(key, s, "init")
            p: dict[str, torch.Tensor] = {}
            for name, (i, o) in zip(self.layer_names(), zip(self.sizes[:-1], self.sizes[1:])):
                if "w" + name in p:
                    continue
                p["w" + name] = self.weight_init.sample(
                    (i, o), fan_in=i, fan_out=o, bias=False, generator=g, dtype=dtype
                )
                if self.bias:
                    p["b" + name] = bias_init.sample(
                        (1, o), fan_in=i, fan_out=o, bias=True, generator=g, dtype=dtype
                    )
            per_seed.append(p)
        stacked = {k: torch.stack([p[k] for p in per_seed]).to(device) for k in per_seed[0]}
        return perturb.scale_init(stacked, lambda name: name.startswith("w"))  # init=xF

    # -- forward -----------------------------------------------------------------------------
    def forward(
        self,
        params: dict[str, torch.Tensor],
        x: torch.Tensor,
        masks: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x (S, N, d_in) -> outputs (S, N, d_out). masks: per hidden layer (S, N, h) scales."""
        return self.trace(params, x, masks)[0]

    def trace(
        self,
        params: dict[str, torch.Tensor],
        x: torch.Tensor,
        masks: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
        """forward, keeping what a backward pass needs (lowdim.backprop): the outputs and, per
        layer, (its input (S, N, in), z (S, N, out), act(z) before the dropout mask; for the
        last layer out_activation(z), i.e. the outputs)."""
        act = ACTIVATIONS[self.activation]
        names = self.layer_names()
        scales = self.weight_scales()
        layers = []
        h = x
        for layer, name in enumerate(names):
            w = params["w" + name]  # (S, in, out)
            if scales[layer] != 1.0:
                w = w * scales[layer]
            z = affine(h, w, params["b" + name] if self.bias else None)
            a = act(z) if layer < len(names) - 1 else ACTIVATIONS[self.out_activation](z)
            layers.append((h, z, a))
            h = a * masks[layer] if masks and layer < len(names) - 1 else a
        return h, layers

    __call__ = forward


class TorchModule:
    """Train a user's plain `torch.nn.Module` across seeds (torch.func.stack_module_state + vmap).

    factory()  builds one un-initialised-by-us module; its own reset_parameters() draws its init,
               under a torch RNG seeded from seed i's "init" stream (the global RNG is restored).
    The module maps (N, d) -> (N, out). Dropout inside the module is not supported (its RNG would
    not be per seed): use MLP(dropout=...) for that.
    """

    def __init__(self, factory: Callable[[], torch.nn.Module]):
        if not callable(factory):
            raise TypeError(f"factory: got {type(factory).__name__}; pass a callable returning a Module")
        self.factory = factory
        with torch.random.fork_rng(devices=[]):  # building the template must not move the RNG
            self._base = factory()
        if not isinstance(self._base, torch.nn.Module):
            raise TypeError(f"factory: returned {type(self._base).__name__}, not a torch.nn.Module")
        self._base = self._base.to("meta")

    def __repr__(self) -> str:
        return f"TorchModule({self._base.__class__.__name__})"

    def dropout_shapes(self, n: int) -> list[tuple[int, ...]]:
        return []

    def init(self, seeds, *, key, dtype=torch.float32, device="cpu"):
        from torch.func import stack_module_state

        seeds = check_seeds(seeds)
        modules = []
        for s in seeds:
            g = torch_generator(key, s, "init")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=g)))
                modules.append(self.factory().to(dtype=dtype))
        params, buffers = stack_module_state(modules)
        if buffers:
            raise ValueError("factory: modules with buffers (e.g. BatchNorm) are not supported")
        params = {k: v.detach().to(device) for k, v in params.items()}
        return perturb.scale_init(params, lambda name: name.endswith("weight"))  # init=xF

    def forward(self, params, x, masks=None):
        from torch.func import functional_call

        def one(p, xi):
            return functional_call(self._base, p, (xi,))

        return torch.vmap(one)(params, x)

    __call__ = forward
