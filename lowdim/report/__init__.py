"""report: a run's report as files. No pytest, no torch.

Owns the report's shape and its reading and writing (schema, at the bottom of lowdim), its
renderings (Markdown, CSV, terminal table, claims.html, figures) and `write_reports`, which
writes them all. May import: lowdim.stats (the firmness columns), pandas, tabulate, matplotlib.
Never the engine, the plugin or regress.
"""

from .schema import OUTCOMES, SCHEMA_VERSION, atomic_write, fmt_interval, fmt_num, load_report

_LAZY = {  # renderers pull in pandas, tabulate and lowdim.stats: loaded on first use
    "change_order": "._core", "header_lines": "._core", "render_markdown": "._core",
    "render_section": "._core", "render_terminal": "._core", "table_rows": "._core",
    "to_frame": "._core", "write_reports": "._core",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OUTCOMES", "SCHEMA_VERSION", "atomic_write", "change_order", "fmt_interval", "fmt_num",
    "header_lines", "load_report", "render_markdown", "render_section", "render_terminal",
    "table_rows", "to_frame", "write_reports",
]
