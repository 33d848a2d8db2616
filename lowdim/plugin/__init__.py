"""plugin: lowdim inside pytest. The `claim` marker and fixture, run options, the run's state.

Owns every pytest hook lowdim implements, the per-run session object, reliability (time
limits, crash accounting, journals), --lowdim-adaptive and the run cache's folder under pytest.
May import every other room; nothing imports it (it is the pytest11 entry point `lowdim.plugin`).
"""

from ._core import *  # noqa: F403  (the hooks pytest finds on this module)
