"""Drawing one report row as a matplotlib Figure, from the row's JSON alone.

A figure shows what its row decided: the per-seed values of each condition (both arms of a
paired test, every column of a trend), the threshold, the estimate with its interval, the
verdict in the title and, where the claim recorded them, curves over training steps as a median
line with a 10-90 % band across seeds. The panels are chosen from the evidence's rule and
details; every panel's y axis is labelled with what it shows, named by the row's statistic
(and its unit, where the evidence's details give one as "unit"). No pyplot (no global figure state, no GUI backend); matplotlib is imported inside the
functions, so importing this module does not need it. Deterministic: fixed jitter.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Mapping

import numpy as np

from .schema import EvidenceDict, Row

VERDICT_COLORS = {"SUPPORTED": "#1a7f37", "REFUTED": "#cf222e", "INCONCLUSIVE": "#6e7781"}
XFAIL_NOTE = "expected failure: source statement does not hold"
STYLE = {  # matplotlib rc: small, dense figures; text stays text in the SVG
    "svg.hashsalt": "lowdim", "svg.fonttype": "none", "figure.dpi": 90, "savefig.dpi": 90,
    "font.size": 7.5, "axes.titlesize": 7.5, "axes.labelsize": 7.5, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 6.5, "figure.titlesize": 8.5,
    "axes.spines.top": False, "axes.spines.right": False,
}
_ARM = ("#0969da", "#bf8700")  # arm a, arm b (and the first two curves)
_CURVE = ("#0969da", "#bf8700", "#8250df", "#1a7f37", "#cf222e", "#57606a", "#e16f24", "#1b7c83")


def _values(v) -> np.ndarray:
    """JSON list (None for non-finite) -> float array with NaN."""
    return np.array([np.nan if x is None else x for x in (v or [])], dtype=np.float64)


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.3g}"


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=True)) or text


def _ylabel(ax, ev: EvidenceDict, what: str = "{}") -> None:
    """Label the y axis with `what` filled in with the statistic (and its unit), at most three
    wrapped lines."""
    unit = (ev.get("details") or {}).get("unit")
    stat = (ev.get("statistic") or "value") + (f" ({unit})" if isinstance(unit, str) else "")
    lines = textwrap.wrap(what.format(stat), 26, break_on_hyphens=False) or [what]
    if len(lines) > 3:
        lines = [*lines[:2], lines[2][:25] + "…"]
    ax.set_ylabel("\n".join(lines), fontsize=6.5)


def _scale(values: np.ndarray) -> str:
    """'log' / 'symlog' for non-negative values spanning more than 3 decades, else 'linear'."""
    v = values[np.isfinite(values)]
    pos = v[v > 0]
    if v.size == 0 or (v < 0).any() or pos.size == 0 or pos.max() / pos.min() <= 1e3:
        return "linear"
    return "symlog" if (v == 0).any() else "log"


def _log_axis(ax, scale: str, *, linthresh: float = 1e-6) -> None:
    """A log (symlog) y axis with plain-text labels (1e-05): mathtext labels cost 4x the time."""
    from matplotlib.ticker import LogFormatter, NullFormatter

    if scale == "linear":
        return
    if scale == "symlog":
        ax.set_yscale("symlog", linthresh=linthresh)
    else:
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    # minor ticks get labels only where the axis spans under two decades
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5))
                                 if scale == "log" else NullFormatter())


def _set_scale(ax, values: np.ndarray) -> None:
    kind = _scale(values)
    v = values[np.isfinite(values) & (values > 0)]
    _log_axis(ax, kind, linthresh=float(v.min()) if v.size else 1e-6)


def _strip(ax, groups: list[tuple[str, np.ndarray]], rng: np.random.Generator,
           jitter: np.ndarray | None = None) -> None:
    """Per group: jittered points (jitter: (S,) offsets shared by the groups, else random), a
    line over the range, a thick line over the quartiles and a tick at the median (a box plot in
    three collections: boxplot's artists cost 10x the time)."""
    offsets = [rng.uniform(-0.15, 0.15, v.size) if jitter is None else jitter for _, v in groups]
    offsets = [o[np.isfinite(v)] for o, (_, v) in zip(offsets, groups)]
    data = [v[np.isfinite(v)] for _, v in groups]
    pos = np.arange(len(groups), dtype=np.float64)
    full = [d for d in data if d.size]
    if full:
        at = np.array([i for i, d in enumerate(data) if d.size], dtype=np.float64)
        q = np.array([np.quantile(d, [0, 0.25, 0.5, 0.75, 1]) for d in full])  # (G, 5)
        ax.vlines(at + 0.28, q[:, 0], q[:, 4], color="#8c959f", lw=0.8)
        ax.vlines(at + 0.28, q[:, 1], q[:, 3], color="#57606a", lw=3.5)
        ax.hlines(q[:, 2], at + 0.2, at + 0.36, color="black", lw=1.5, zorder=4)
    for i, (d, o) in enumerate(zip(data, offsets)):
        ax.scatter(i + o, d, s=7, alpha=0.6, linewidths=0, color=_ARM[i % len(_ARM)], zorder=3)
    ax.set_xticks(pos, [_wrap(label, 14) for label, _ in groups])
    ax.set_xlim(-0.5, len(groups) - 0.4)
    _set_scale(ax, np.concatenate(data) if data else np.array([]))


def _threshold_line(ax, y: float, label: str) -> None:
    ax.axhline(y, color="black", ls="--", lw=0.8, zorder=1)
    ax.annotate(label, (1, y), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                fontsize=6.5, color="#57606a")


def _panel_values(ax, ev: EvidenceDict, rng, *, label: str = "per seed") -> None:
    """The per-seed statistic against the threshold (a band of +-margin for equivalence)."""
    v = _values(ev.get("values"))
    _strip(ax, [(label, v)], rng)
    thr = ev.get("threshold")
    if ev.get("rule") in ("sign", "seq-sign"):  # a sign test's threshold is a share (0.5)
        margin = (ev.get("details") or {}).get("margin", 0.0)
        _threshold_line(ax, margin, f"a - b = {_fmt(margin)}")
    elif thr is not None:
        if ev.get("alternative") == "equivalence":
            ax.axhspan(-thr, thr, color=VERDICT_COLORS["SUPPORTED"], alpha=0.1, lw=0)
            _threshold_line(ax, thr, "+margin")
            _threshold_line(ax, -thr, "-margin")
        else:
            _threshold_line(ax, thr, f"threshold {_fmt(thr)}")
    ax.set_title(f"per-seed values (n={v.size})")
    _ylabel(ax, ev)


def _panel_counts(ax, ev: EvidenceDict, rng) -> None:
    """A proportion: seeds with and without the property, and the count the threshold asks for."""
    v = _values(ev.get("values"))
    k = int(np.nansum(v))
    n = v.size
    ax.bar([0, 1], [k, n - k], color=[_ARM[0], "#d0d7de"], width=0.6)
    for i, c in enumerate((k, n - k)):
        ax.annotate(str(c), (i, c), ha="center", va="bottom", fontsize=7)
    ax.set_xticks([0, 1], ["yes", "no"])
    ax.set_ylim(0, max(n, 1) * 1.12)
    if ev.get("threshold") is not None:
        _threshold_line(ax, ev["threshold"] * n, f"threshold x n = {_fmt(ev['threshold'] * n)}")
    ax.set_ylabel("seeds", fontsize=6.5)
    ax.set_xlabel(_wrap(ev.get("statistic") or "", 30))
    ax.set_title(_wrap(f"seeds with the property (n={n})", 34))


def _panel_arms(ax, ev: EvidenceDict, rng) -> None:
    """Both arms of a paired comparison, each seed's pair joined by a line."""
    from matplotlib.collections import LineCollection

    a, b = _values(ev["details"]["a"]), _values(ev["details"]["b"])
    jitter = rng.uniform(-0.12, 0.12, a.size)  # (S,) the same for a seed's two points
    seg = np.stack([np.stack([jitter, a], 1), np.stack([1 + jitter, b], 1)], 1)  # (S, 2, 2)
    ax.add_collection(LineCollection(seg, colors="#8c959f", linewidths=0.5, alpha=0.5))
    _strip(ax, [("a", a), ("b", b)], rng, jitter=jitter)
    ax.set_title(f"arms, paired by seed (n={a.size})")
    _ylabel(ax, ev, "arms a, b of {}")


def _panel_trend(ax, ev: EvidenceDict, rng) -> None:
    """A trend: each seed's statistic across the ordered conditions (thin), and their median."""
    from matplotlib.collections import LineCollection

    t = np.array([[np.nan if x is None else x for x in row] for row in ev["details"]["table"]],
                 dtype=np.float64)  # (S, K)
    s, k = t.shape
    names = ev["details"].get("conditions") or [str(i + 1) for i in range(k)]
    pos = np.arange(k, dtype=np.float64)
    jit = rng.uniform(-0.06, 0.06, t.shape)
    seg = np.stack([pos + jit, t], -1)  # (S, K, 2)
    ax.add_collection(LineCollection(seg, colors="#8c959f", linewidths=0.5, alpha=0.45))
    ax.scatter((pos + jit).ravel(), t.ravel(), s=5, alpha=0.5, linewidths=0, color=_ARM[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column
        med = np.nanmedian(t, 0)
    ax.plot(pos, med, "-o", color="black", lw=1.5, ms=3.5, label="median", zorder=4)
    ax.set_xticks(pos, [_wrap(str(c), 16) for c in names])
    ax.set_xlim(-0.4, k - 0.6)
    _set_scale(ax, t.ravel())
    order = "predicted order: " + ("increasing" if ev.get("alternative") != "decreasing"
                                   else "decreasing")
    ax.set_title(f"per-seed statistic across conditions (n={s}); {order}")
    _ylabel(ax, ev, "value at each condition, for {}")
    ax.legend(loc="best", frameon=False)


def _panel_decision(ax, ev: EvidenceDict, rng) -> None:
    """The estimate with its interval against the threshold: what the test decided."""
    color = VERDICT_COLORS.get(ev.get("verdict"), "#57606a")
    est, thr = ev.get("estimate"), ev.get("threshold")
    lo, hi = (ev.get("interval") or [None, None])[:2]
    equiv = ev.get("alternative") == "equivalence"
    marks = [x for x in (est, lo, hi, thr, -thr if (equiv and thr is not None) else None)
             if x is not None and math.isfinite(x)]
    if not marks:
        marks = [0.0]
    span = (max(marks) - min(marks)) or abs(max(marks)) or 1.0
    xmin, xmax = min(marks) - 0.2 * span, max(marks) + 0.2 * span
    if thr is not None:
        if equiv:
            ax.axvspan(-thr, thr, color=VERDICT_COLORS["SUPPORTED"], alpha=0.1, lw=0)
            for x in (-thr, thr):
                ax.axvline(x, color="black", ls="--", lw=0.8)
        else:
            ax.axvline(thr, color="black", ls="--", lw=0.8)
    left, right = (xmin if lo is None else lo), (xmax if hi is None else hi)
    ax.plot([left, right], [0, 0], color=color, lw=3, solid_capstyle="butt")
    if lo is None:
        ax.plot([xmin], [0], marker="<", color=color, ms=6, clip_on=False)
    if hi is None:
        ax.plot([xmax], [0], marker=">", color=color, ms=6, clip_on=False)
    if est is not None:
        ax.plot([est], [0], "o", color="white", mec=color, mew=1.5, ms=6, zorder=4)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    level = (ev.get("details") or {}).get("interval_level") or 1 - (ev.get("alpha") or 0.01)
    sided = "two-sided" if ev.get("alternative") in ("two-sided", "equivalence") else "one-sided"
    ax.set_ylabel(f"estimate, {100 * level:.4g}%\n{sided} interval", fontsize=6.5)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(_wrap(ev.get("statistic") or "", 36))
    p = ev.get("p")
    ax.set_title(f"{_fmt(est)} [{_fmt(lo) if lo is not None else '-inf'}, "
                 f"{_fmt(hi) if hi is not None else 'inf'}]\n"
                 f"{_wrap(ev.get('test') or '', 30)}, p = {_fmt(p)}", color=color)


def _panels(ev: EvidenceDict) -> list[tuple[float, object]]:
    """(width in inches, draw function) per panel, chosen from what the evidence holds."""
    d = ev.get("details") or {}
    decision = (2.3, _panel_decision)
    if isinstance(d.get("table"), list) and d["table"] and isinstance(d["table"][0], list):
        return [(3.6, _panel_trend),
                (1.5, lambda ax, e, r: _panel_values(ax, e, r, label="change per step")), decision]
    if isinstance(d.get("a"), list) and isinstance(d.get("b"), list):
        return [(2.2, _panel_arms),
                (1.5, lambda ax, e, r: _panel_values(ax, e, r, label="a - b")), decision]
    if ev.get("rule") in ("proportion", "seq-proportion"):  # exact, or an e-process
        return [(2.2, _panel_counts), decision]
    return [(2.2, _panel_values), decision]


def _curve_panels(curves: Mapping[str, Mapping]) -> list[tuple[str, dict]]:
    """Curves grouped by ylabel (one plot each), in name order."""
    groups: dict[str, dict] = {}
    for name in sorted(curves):
        groups.setdefault(curves[name].get("ylabel", "value"), {})[name] = curves[name]
    return list(groups.items())


def _draw_curves(ax, ylabel: str, group: dict) -> None:
    xlabel, scale, smallest = "step", "linear", math.inf
    for i, (name, c) in enumerate(group.items()):
        x = _values(c["x"])
        y = np.array([[np.nan if v is None else v for v in row] for row in c["y"]],
                     dtype=np.float64)  # (S, R)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps
            lo, med, hi = np.nanquantile(y, [0.1, 0.5, 0.9], axis=0)  # (R,) each
        color = _CURVE[i % len(_CURVE)]
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)
        ax.plot(x, med, color=color, lw=1.3, label=f"{name} (n={y.shape[0]})")
        xlabel, scale = c.get("xlabel", xlabel), c.get("yscale", scale)
        pos = np.abs(y[np.isfinite(y) & (y != 0)])
        smallest = min(smallest, float(pos.min())) if pos.size else smallest
    _log_axis(ax, scale, linthresh=smallest if math.isfinite(smallest) else 1e-6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_wrap(ylabel, 30))
    ax.set_title("median over seeds, band 10-90 %")
    ax.legend(loc="best", frameon=False)


def title(row: Row) -> str:
    """The verdict line of a row: its verdict (or outcome), and for an xfail what that means."""
    ev = row.get("evidence") or {}
    head = ev.get("verdict") or row.get("outcome", "")
    if row.get("outcome") == "xfailed":
        head += f" ({XFAIL_NOTE})"
    elif row.get("outcome") not in ("passed", "xfailed"):
        head += f" (outcome: {row.get('outcome')})"
    return head


# Fixed layout, in inches (constrained layout doubled the cost of a figure): room for two
# lines of suptitle and of panel title above, tick labels and a wrapped x label below.
_TOP_H, _CURVE_H = 2.8, 2.3  # heights of the panel row and of the curve row
_MARGIN = {"left": 0.85, "right": 0.15, "top": 0.78, "bottom": 0.72, "gap": 0.9,
           "curve_top": 0.3, "curve_bottom": 0.45, "curve_gap": 0.75, "curve_left": 0.65}


def _grid(fig, widths: list[float], *, top: float, height: float, left: float, gap: float,
          bottom: float, top_pad: float):
    """A one-row gridspec whose axes sit `top_pad` inches below `top` (inches from the figure's
    top) and `bottom` inches above the block's lower edge, `gap` inches apart."""
    w, h = fig.get_size_inches()
    inner = w - left - _MARGIN["right"]
    axes_w = (inner - gap * (len(widths) - 1)) / len(widths)
    return fig.add_gridspec(1, len(widths), width_ratios=widths, left=left / w,
                            right=1 - _MARGIN["right"] / w, top=1 - (top + top_pad) / h,
                            bottom=1 - (top + height - bottom) / h, wspace=gap / axes_w)


def draw_row(row: Row):
    """One matplotlib Figure for a report row that holds evidence (no pyplot: nothing global)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    ev = row["evidence"]
    rng = np.random.default_rng(0)  # jitter only; the same picture on every run
    panels = _panels(ev)
    curves = _curve_panels(row.get("curves") or {})
    width = max(sum(w for w, _ in panels) + _MARGIN["gap"] * (len(panels) - 1) + _MARGIN["left"]
                + _MARGIN["right"],
                3.4 * len(curves))
    name = row["test"].rsplit("/", 1)[-1]
    head = f"{title(row)}\n{_wrap(name, int(width * 14))}"
    fig = Figure(figsize=(width, _TOP_H + _CURVE_H * bool(curves)))
    gs = _grid(fig, [w for w, _ in panels], top=0.0, height=_TOP_H, left=_MARGIN["left"],
               gap=_MARGIN["gap"], bottom=_MARGIN["bottom"],
               top_pad=_MARGIN["top"] + 0.14 * (head.count("\n") - 1))  # a long test name
    for i, (_, draw) in enumerate(panels):
        ax = fig.add_subplot(gs[0, i])
        ax.yaxis.set_major_locator(MaxNLocator(4))
        draw(ax, ev, rng)
    if curves:
        gs = _grid(fig, [1.0] * len(curves), top=_TOP_H, height=_CURVE_H,
                   left=_MARGIN["curve_left"], gap=_MARGIN["curve_gap"],
                   bottom=_MARGIN["curve_bottom"], top_pad=_MARGIN["curve_top"])
        for i, (ylabel, group) in enumerate(curves):
            ax = fig.add_subplot(gs[0, i])
            ax.xaxis.set_major_locator(MaxNLocator(5))
            _draw_curves(ax, ylabel, group)
    fig.suptitle(head, y=1 - 0.06 / fig.get_figheight(), va="top",
                 color=VERDICT_COLORS.get(ev.get("verdict"), "#57606a"))
    return fig


__all__ = ["STYLE", "VERDICT_COLORS", "XFAIL_NOTE", "draw_row", "title"]
