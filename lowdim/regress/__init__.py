"""regress: a run against earlier runs. No pytest, no torch.

Owns the method hash (method: what a row's finding depends on), the comparison with a baseline
(compare: verdict changed / drift / claim changed / new / vanished), shards and their merge
(shards), the CI surfaces (ci: GitHub step summary, junit properties) and the plugin's
run-level state (run). May import: lowdim.report, lowdim.stats, lowdim.engine.source (the
prose-free normalisation of code). Never the rest of the engine, nor the plugin.
"""

from .ci import STEP_SUMMARY_LIMIT, fit_step_summary, junit_properties, write_step_summary
from .compare import (
    DRIFT_MARGIN_SCALE,
    FAILING,
    MARGIN_RULE,
    Comparison,
    annotate,
    check_comparable,
    compare,
    drift_margin,
    load_baseline,
    render_terminal,
    save_baseline,
    strip_comparison,
)
from .method import DECISION_FIELDS, METHOD_HASH_SCHEME, method_hash, normalised_source
from .run import RunRegression
from .shards import (
    apply_holm,
    file_of,
    merge,
    parse_shard,
    seed_block,
    seed_block_text,
    shard_files,
    split_shard,
    write_report_files,
)

__all__ = [
    "DECISION_FIELDS", "DRIFT_MARGIN_SCALE", "FAILING", "MARGIN_RULE", "METHOD_HASH_SCHEME",
    "STEP_SUMMARY_LIMIT", "Comparison", "RunRegression", "annotate", "apply_holm",
    "check_comparable", "compare", "drift_margin", "file_of", "fit_step_summary",
    "junit_properties", "load_baseline", "merge", "method_hash", "normalised_source",
    "parse_shard", "render_terminal", "save_baseline", "seed_block", "seed_block_text",
    "shard_files", "split_shard", "strip_comparison", "write_report_files",
    "write_step_summary",
]
