"""regress: a run against earlier runs. No pytest, no torch.

Owns the method hash (what a row's finding depends on), the comparison with a baseline
(verdict changed / drift / claim changed / new / vanished), shards and their merge, and the CI
surfaces (GitHub step summary, junit properties). May import: lowdim.report, lowdim.stats.
Never the engine or the plugin.
"""

from ._core import (
    FAILING,
    METHOD_HASH_SCHEME,
    RunRegression,
    annotate,
    apply_holm,
    check_comparable,
    compare,
    drift_margin,
    file_of,
    junit_properties,
    load_baseline,
    merge,
    method_hash,
    normalised_source,
    parse_shard,
    render_terminal,
    save_baseline,
    shard_files,
    split_shard,
    write_report_files,
    write_step_summary,
)

__all__ = [
    "FAILING", "METHOD_HASH_SCHEME", "RunRegression", "annotate", "apply_holm",
    "check_comparable", "compare", "drift_margin", "file_of", "junit_properties",
    "load_baseline", "merge", "method_hash", "normalised_source", "parse_shard",
    "render_terminal", "save_baseline", "shard_files", "split_shard", "write_report_files",
    "write_step_summary",
]
