"""Suite-wide settings for `pytest claims` and `pytest tests`.

The lowdim plugin itself is registered through the package's `pytest11` entry point (installed by
`pip install -e ".[dev]"`), so it also works in a user's own test folder. It acts only in a claims
session (lowdim/plugin/gate.py): here, one that names claims/ (claims/conftest.py opts it in) or
collects a claim test. There it sets one torch and one BLAS thread per process
(--lowdim-threads), so `-n 0` and `-n auto` give the same numbers; `pytest tests` it leaves
alone (no report, no thread change, xdist's own scheduler). Nothing here trains.
"""
