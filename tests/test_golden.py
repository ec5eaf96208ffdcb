"""What training computes is pinned by the golden run (tests/golden.py), so that the training code's
version changes exactly when the computation does: a refactor keeps published runs current."""

import json

import pytest
from golden import GOLDEN_FILE, run_pinned

from archcompare.provenance import TRAINING_CODE_VERSION


def test_training_computes_what_the_golden_run_recorded_for_the_current_code_version():
    golden = json.loads(GOLDEN_FILE.read_text())
    assert golden["training_code_version"] == TRAINING_CODE_VERSION, (
        f"TRAINING_CODE_VERSION is {TRAINING_CODE_VERSION} but {GOLDEN_FILE.name} was recorded for version "
        f"{golden['training_code_version']}: rewrite it with `make golden` after checking the change is intended"
    )
    now = run_pinned()
    if (now["torch"], now["torchvision"]) != (golden["torch"], golden["torchvision"]):
        pytest.skip(f"golden values were recorded with torch {golden['torch']}; this is torch {now['torch']}")
    for name, recorded in golden["runs"].items():
        assert now["runs"][name] == recorded, (
            f"the golden run {name!r} computes something else than training code version {TRAINING_CODE_VERSION} "
            "did. If the change is intended, raise TRAINING_CODE_VERSION in lib/archcompare/provenance.py (runs of "
            "older versions are then flagged) and run `make golden`; if not, the change altered training by mistake"
        )
