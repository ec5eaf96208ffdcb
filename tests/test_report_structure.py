"""Issue 28, section 6: the report package split by concern, numbers apart from words.

The analysis computes typed results once; the wording only formats them. Checked on the source:
the modules that write the report's sentences and captions import no statistics at run time, and
no module of the package is over the house limit of 450 lines.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from types import ModuleType

from archcompare import report
from archcompare.paths import ROOT

# The report's sentences and captions, by their public names (what compare.ipynb calls).
WORDED = (
    "title_markdown",
    "overview_markdown",
    "warnings_markdown",
    "conclusions",
    "limitations",
    "cardinality_markdown",
    "ensembles_markdown",
    "readme_headline",
    "readme_timings",
    "caption_headline",
    "caption_training_curves",
    "caption_per_class_difference",
    "caption_confusion",
    "caption_reliability",
    "caption_cardinality",
)
STATISTICS = ("scipy", "numpy", "statsmodels")


def runtime_imports(module: ModuleType) -> set[str]:
    """The modules ``module`` imports when it runs (not those under ``if TYPE_CHECKING:``), as absolute names."""
    package = module.__name__.rpartition(".")[0]
    names = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).rstrip(".")
                names.add(base)
            for field in ("body", "orelse", "finalbody", "handlers"):
                visit(getattr(node, field, []) or [])

    visit(ast.parse(inspect.getsource(module)).body)
    return names


def assert_computes_nothing(module: ModuleType) -> None:
    imported = runtime_imports(module)
    computing = sorted(
        name for name in imported if name.split(".")[0] in STATISTICS or name.endswith(".analysis.statistics")
    )
    assert not computing, f"{module.__name__} computes statistics: it imports {', '.join(computing)}"


def test_the_modules_that_word_the_report_import_no_statistics():
    for module in {inspect.getmodule(getattr(report, name)) for name in WORDED}:
        assert_computes_nothing(module)
    wording = importlib.import_module("archcompare.report.wording")
    modules = [info.name for info in pkgutil.iter_modules(wording.__path__, f"{wording.__name__}.")]
    assert len(modules) >= 8  # one module per concern: overview, conclusions, timing, limitations, ...
    for name in modules:
        assert_computes_nothing(importlib.import_module(name))


def test_the_import_check_sees_a_statistics_import():
    """The check above can fail: the analysis module that computes the paired interval imports scipy."""
    pairs = importlib.import_module("archcompare.report.analysis.pairs")
    assert "scipy" in runtime_imports(pairs) and "archcompare.report.analysis.statistics" in runtime_imports(pairs)
    timing = importlib.import_module("archcompare.report.wording.timing")
    assert "archcompare.report.analysis.statistics" not in runtime_imports(timing)  # only for a type


MAX_MODULE_LINES = 450  # the house limit (developers' guide): a module a reader takes in at once


def test_no_module_of_the_package_is_over_the_house_limit():
    package = ROOT / "lib" / "archcompare"
    sizes = {path.relative_to(package).as_posix(): len(path.read_text().splitlines()) for path in package.rglob("*.py")}
    over = {path: lines for path, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not over, f"over {MAX_MODULE_LINES} lines: {over}"
    assert len(sizes) > 40 and any(path.startswith("report/analysis/") for path in sizes)  # the package was read
