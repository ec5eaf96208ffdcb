"""The README's numbers are the committed results' numbers, never typed in; the committed results are current."""

import json

import pytest

from archcompare import pipeline

# Profiles whose results are committed, and whether their runs must have been made by the current
# training code. CPU-published runs are retrained after a code change; GPU runs are kept and flagged.
PUBLISHED = {"quick": True, "cardinality-quick": True, "full": False}


@pytest.mark.parametrize("name", ["headline", "headline-quick", "bench"])
def test_readme_blocks_match_the_committed_results(name):
    blocks = pipeline.readme_blocks()
    assert name in blocks, f"the committed results for the README's {name} block are missing from outputs/"
    readme = (pipeline.ROOT / "README.md").read_text()
    match = pipeline.readme_block_pattern(name).search(readme)
    assert match, f"README.md has no {name} block"
    assert match.group(2) == blocks[name], "README is stale: run `.venv/bin/python -m archcompare.cli readme`"


@pytest.mark.parametrize("profile", PUBLISHED)
def test_a_fresh_clone_retrains_no_committed_run(profile):
    """Every committed run is up to date for `make report`: settings, data and (where required) code."""
    runs = sorted((pipeline.ROOT / "outputs" / profile / "runs").glob("*/summary.json"))
    assert runs, f"no committed runs under outputs/{profile}"
    plan = json.loads((pipeline.ROOT / "outputs" / profile / "plan.json").read_text())
    profile_settings = pipeline.load_profile(profile)
    code, notebook = pipeline.current_code()
    for path in runs:
        summary = json.loads(path.read_text())
        config = summary["config"]
        assert summary["arch"] in plan["architectures"] and summary["seed"] in plan["seeds"], path
        for key, value in profile_settings["parameters"].items():
            if key != "dataset":
                assert config[key] == value, f"{path}: {key} is {config[key]!r}, the profile says {value!r}"
        assert config["dataset"] == plan["data"], path
        older = pipeline.older_code_reason(path.parent, summary, code, notebook)
        if PUBLISHED[profile]:
            assert older is None, f"{path.parent.name} of {profile}: {older}; retrain it (make report RETRAIN=1)"
