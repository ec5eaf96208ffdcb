"""The README's generated blocks: the headline results and the benchmark tables, from the committed files."""

from __future__ import annotations

import re
from pathlib import Path

from ..files import write_text
from ..paths import ROOT, outputs_dir
from .runs import load_runs
from .wording.readme import readme_headline, readme_timings

README_PROFILES = {"headline": "full", "headline-quick": "quick"}  # the README's result blocks and their profiles
TIMED_PROFILES = ("quick", "cardinality-quick", "full")  # published profiles whose measured times the README gives


def readme_blocks() -> dict[str, str]:
    """The README's generated blocks, from the committed results: name -> Markdown."""
    blocks = {}
    for name, profile in README_PROFILES.items():
        runs = outputs_dir() / profile
        if (runs / "runs").is_dir():
            blocks[name] = readme_headline(load_runs(runs))
    timed = [outputs_dir() / profile for profile in TIMED_PROFILES if (outputs_dir() / profile / "runs").is_dir()]
    if timed:
        blocks["timings"] = "".join(f"- {readme_timings(load_runs(profile))}\n" for profile in timed)
    tables = [outputs_dir() / "bench" / f"bench-{device}.md" for device in ("cpu", "cuda")]
    if any(table.exists() for table in tables):
        blocks["bench"] = "\n".join(table.read_text() for table in tables if table.exists())
    return blocks


def readme_block_pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}:start[^>]*-->\n)(.*?)(<!-- {name}:end -->)", re.DOTALL)


def update_readme(path: Path = ROOT / "README.md") -> None:
    """Rewrite the README's generated blocks so its numbers are the committed results'."""
    text = path.read_text()
    for name, block in readme_blocks().items():
        text = readme_block_pattern(name).sub(lambda m, block=block: m.group(1) + block + m.group(3), text)
    write_text(path, text)
