"""The README's numbers are the committed results' numbers, never typed in; the committed results are current."""

import json

import pytest

from archcompare.execution import EXECUTION_FIELDS
from archcompare.paths import ROOT
from archcompare.pipeline.profiles import EXECUTION_PARAMETERS, load_profile
from archcompare.record import read_record
from archcompare.report.readme import readme_block_pattern, readme_blocks

# Profiles whose results are committed, and whether their runs must have been made by the current
# training code. CPU-published runs are retrained after a change of the training code version; GPU
# runs are kept and flagged.
PUBLISHED = {"quick": True, "cardinality-quick": True, "full": False}


@pytest.mark.parametrize("name", ["headline", "headline-quick", "bench"])
def test_readme_blocks_match_the_committed_results(name):
    blocks = readme_blocks()
    assert name in blocks, f"the committed results for the README's {name} block are missing from outputs/"
    readme = (ROOT / "README.md").read_text()
    match = readme_block_pattern(name).search(readme)
    assert match, f"README.md has no {name} block"
    assert match.group(2) == blocks[name], "README is stale: run `.venv/bin/python -m archcompare.cli readme`"


@pytest.mark.parametrize("profile", PUBLISHED)
def test_a_fresh_clone_retrains_no_committed_run(profile):
    """Every committed run is up to date for `make report`: settings, data and (where required) code version."""
    runs = sorted((ROOT / "outputs" / profile / "runs").glob("*/summary.json"))
    assert runs, f"no committed runs under outputs/{profile}"
    plan = json.loads((ROOT / "outputs" / profile / "plan.json").read_text())
    parameters = load_profile(profile).parameters
    for path in runs:
        record = read_record(path)
        assert record.arch in plan["architectures"] and record.seed in plan["seeds"], path
        for key, value in parameters.items():
            if key not in ("dataset", *EXECUTION_FIELDS, *EXECUTION_PARAMETERS):  # how it ran is not what it is
                assert record.config[key] == value, (
                    f"{path}: {key} is {record.config[key]!r}, the profile says {value!r}"
                )
        assert record.data.portable_spec == plan["data"], path
        if PUBLISHED[profile]:
            assert record.older_code is None, f"{path.parent.name} of {profile}: {record.older_code}; retrain it"
