"""report: a run's report as files. No pytest, no torch.

Owns the report's shape and its reading (schema, at the bottom of lowdim; its JSON Schema:
publish), its renderings (render: the claims overview, Markdown, CSV frame, terminal table,
the per-seed frame `read_report`; html: claims.html; figures, drawn by draw from curves packed
by curves), `write`, which writes them all, and costs (the per-claim cost table, `lowdim costs`).
May import: lowdim.stats (the firmness columns), pandas, tabulate, matplotlib. Never the
engine, the plugin or regress.
"""

from .fmt import fmt_interval, fmt_num
from .publish import json_schema
from .schema import (
    OUTCOMES,
    SCHEMA_VERSION,
    EvidenceDict,
    Meta,
    Report,
    Row,
    atomic_write,
    check_report,
    legacy_rule,
    load_report,
)
from .write import dump_report, write, write_reports  # bound over the submodule's name

_LAZY = {  # renderers pull in pandas, tabulate and lowdim.stats: loaded on first use
    name: ".render" for name in (
        "change_order", "csv_text", "header_lines", "holds", "overview", "read_report",
        "render_markdown", "render_overview", "render_section", "render_terminal",
        "table_rows", "to_frame")
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OUTCOMES", "SCHEMA_VERSION", "EvidenceDict", "Meta", "Report", "Row", "atomic_write",
    "change_order", "check_report", "csv_text", "dump_report", "fmt_interval", "fmt_num",
    "header_lines", "holds", "json_schema", "legacy_rule", "load_report", "overview",
    "read_report", "render_markdown", "render_overview", "render_section", "render_terminal",
    "table_rows", "to_frame", "write", "write_reports",
]
