"""engine: training many seeds at once. Torch lives here and nowhere above the plugin.

Owns seeding (per-seed streams), data makers, batched models, losses, the hand-written backward,
the training loop, per-seed metrics, NTK tools, the CPU-kernel fingerprint and the run cache.
May import: torch, numpy, scikit-learn. Never another room of lowdim (stats, plugin, report,
regress): the engine computes numbers and knows nothing of decisions or reports.
This file imports nothing, so `import lowdim.engine.<module>` loads only what it names.
"""
