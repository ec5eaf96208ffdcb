"""The README's numbers are the committed results' numbers, never typed in."""

import pytest

from archcompare import pipeline


@pytest.mark.parametrize("name", ["headline", "bench"])
def test_readme_blocks_match_the_committed_results(name):
    blocks = pipeline.readme_blocks()
    if name not in blocks:
        pytest.skip(f"no committed results for the {name} block")
    readme = (pipeline.ROOT / "README.md").read_text()
    match = pipeline.readme_block_pattern(name).search(readme)
    assert match, f"README.md has no {name} block"
    assert match.group(2) == blocks[name], "README is stale: run `.venv/bin/python -m archcompare.cli readme`"
