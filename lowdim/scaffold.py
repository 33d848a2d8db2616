"""`lowdim new NAME`: the skeleton of a claim file that already passes.

The skeleton has every part a claim file needs (the docstring's sections, constants as the
method, the claim marker, a test named as a sentence that trains, records and then asserts), and
its test really trains something tiny with lowdim, so a new claim starts from a green run and
grows by editing, never from a blank page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
MAX_NAME = 60

TEMPLATE = '''"""{title}

Claim   "<the source's words, quoted>" (replace: the skeleton's claim is that a small MLP
        fits two well separated Gaussian clusters).
Source  <where the statement comes from: paper, post, notebook; the source's own number if it
        gave one>
Method  two Gaussian clusters at (-1, 0) and (1, 0), std 0.3, 32 points each, fresh per seed;
        2-8-2 ReLU MLP, lowdim's default init; Adam lr 0.05, 100 full-batch steps,
        cross-entropy. 24 seeds (quick), 96 (full).
Test    per seed training accuracy; exact binomial test of P(acc > 0.9) > 0.5, one-sided,
        alpha 0.01 (Clopper-Pearson interval).
Expect  written before the first run: <what you expect and why>. For the skeleton: clusters
        6.7 standard deviations apart are fit by nearly every seed.
Known artefacts of the source: <what the source did that a faithful port must keep or note:
        unseeded runs, a metric computed on the training set, a text that disagrees with its code>

Design notes and history: docs/claims/{claim_id}.md (<write it once the design has a history:
design runs, power calculations, outcomes on the reported seeds, changes>)
"""

import pytest

import lowdim as ld

pytestmark = pytest.mark.claim(
    "{claim_id}",
    statement="<the source's statement, one sentence>",
    source="<the source, short>",
)

N_SEEDS = {{"quick": 24, "full": 96}}
CENTERS = [[-1.0, 0.0], [1.0, 0.0]]
N_PER_CLASS = 32
STD = 0.3
MODEL = ld.MLP((2, 8, 2))
CONFIG = ld.TrainConfig(steps=100, optimizer="adam", lr=0.05, loss="cross_entropy")
ACC_BAR = 0.9  # a seed "fits" when its training accuracy is above this
SHARE = 0.5  # the claim: more than this share of the seeds fits


def test_a_small_mlp_fits_two_separated_clusters(claim):
    seeds = claim.seeds(claim.choose(N_SEEDS))
    data = ld.make_clusters(seeds, centers=CENTERS, n_per_class=N_PER_CLASS, std=STD,
                            key=claim.id)
    result = ld.train(MODEL, data, CONFIG, seeds=seeds, key=claim.id, device=claim.device)
    acc = ld.accuracy(result.predict(data.x), data.y)  # (S,)
    evidence = claim.record(ld.proportion(acc > ACC_BAR, threshold=SHARE,
                                          statistic=f"P(train acc > {{ACC_BAR}})"))
    assert evidence.supported, evidence
'''


def check_name(name: str) -> tuple[str, str]:
    """NAME -> (claim id, module name): 'wide-nets' -> ('wide-nets', 'test_wide_nets')."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or len(name) > MAX_NAME:
        raise ValueError(
            f"NAME: got {name!r}; use lowercase letters, digits and single - or _ between words, "
            f"starting with a letter, at most {MAX_NAME} characters (e.g. wide-nets-fit-better)")
    if name.replace("-", "_").startswith("test_"):
        raise ValueError(f"NAME: got {name!r}; leave out the test_ prefix, the file gets it")
    return name.replace("_", "-"), "test_" + name.replace("-", "_")


def render(name: str) -> str:
    claim_id, _ = check_name(name)
    title = f"<One sentence: what the claim says> (claim {claim_id})."
    return TEMPLATE.format(title=title, claim_id=claim_id)


CONFTEST = '''"""A claims folder: every pytest session that names it is a lowdim claims session.

`lowdim_claims = True` opts those sessions in before collection, so that under -n lowdim deals
whole claim files to the workers, longest first (xdist picks its scheduler before collecting).
"""

lowdim_claims = True
'''


def new_claim(name: str, directory: str | os.PathLike = "claims") -> Path:
    """Write DIRECTORY/test_<name>.py from the template; refuses to overwrite a file. A folder
    without a conftest.py also gets one that opts its sessions in (CONFTEST)."""
    _, module = check_name(name)
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--dir {folder}: not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}.py"
    try:
        with open(path, "x", encoding="utf-8") as f:  # "x": never overwrite, even in a race
            f.write(render(name))
    except FileExistsError:
        raise ValueError(f"{path}: already exists; pick another NAME or edit that file") from None
    try:
        with open(folder / "conftest.py", "x", encoding="utf-8") as f:
            f.write(CONFTEST)
    except FileExistsError:  # the folder's own conftest.py stays as it is
        pass
    return path
