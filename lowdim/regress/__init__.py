"""regress: a run against earlier runs. No pytest, no torch.

Owns the method hash (method: what a row's finding depends on), the comparison with a baseline
(compare: verdict changed / drift / claim changed / new / vanished, and the fragility rule on
another CPU kind), shards and their merge (shards), the run history (history: reports/history,
`lowdim compare last`, `lowdim history`), the CI surfaces (ci: GitHub step summary, junit
properties) and the plugin's run-level state (run: a baseline file or a folder of baselines per
CPU kind). May import: lowdim.report, lowdim.stats, lowdim.engine.source (the prose-free
normalisation of code). Never the rest of the engine, nor the plugin.
"""

from .ci import STEP_SUMMARY_LIMIT, fit_step_summary, junit_properties, write_step_summary
from .compare import (
    DRIFT_MARGIN_SCALE,
    FAILING,
    FRAGILE_RULE,
    MARGIN_RULE,
    Comparison,
    annotate,
    check_comparable,
    compare,
    drift_margin,
    fragile,
    load_baseline,
    render_terminal,
    save_baseline,
    strip_comparison,
)
from .history import HISTORY_DIR, save_history
from .method import (
    DECISION_FIELDS,
    METHOD_HASH_SCHEME,
    conditions_of,
    method_hash,
    method_value,
    normalised_source,
    qualified_name,
)
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
    "Comparison", "DECISION_FIELDS", "DRIFT_MARGIN_SCALE", "FAILING", "FRAGILE_RULE", "HISTORY_DIR",
    "MARGIN_RULE", "METHOD_HASH_SCHEME", "RunRegression", "STEP_SUMMARY_LIMIT", "annotate",
    "apply_holm", "check_comparable", "compare", "conditions_of", "drift_margin", "file_of",
    "fit_step_summary", "fragile", "junit_properties", "load_baseline", "merge", "method_hash",
    "method_value", "normalised_source", "parse_shard", "qualified_name", "render_terminal",
    "save_baseline", "save_history", "seed_block", "seed_block_text", "shard_files", "split_shard",
    "strip_comparison", "write_report_files", "write_step_summary",
]
