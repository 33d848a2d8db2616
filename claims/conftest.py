"""The claims suite: every pytest session that names this folder is a lowdim claims session.

`lowdim_claims = True` opts those sessions in before collection (lowdim/plugin/gate.py): pytest
loads this file first for `pytest claims ...` and `pytest claims/test_x.py ...`, so under -n the
plugin can still choose loadfile, the files longest first and its crash-safe scheduler (choices
xdist makes before anything is collected). Sessions that do not name this folder (`pytest tests`)
are left to pytest and xdist as they are. Nothing here trains.
"""

lowdim_claims = True
