"""Suite-wide settings for `pytest claims` and `pytest tests`.

The lowdim plugin itself is registered through the package's `pytest11` entry point (installed by
`pip install -e ".[dev]"`), so it also works in a user's own test folder. Nothing here trains.
"""

import os

# One BLAS / OpenMP thread per process: under `-n auto` every xdist worker is a process, and
# oversubscribing 2 cores made small-model training 1.1-55x slower on this machine. torch's own
# intra-op threads are set by --lowdim-threads (default 1).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
