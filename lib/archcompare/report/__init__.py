"""The comparison report: every table, figure and sentence the compare notebook shows.

The notebook is a thin sequence of calls into this package, so its numbers and its text can be
tested. Everything comes from the runs' own files (``summary.json``, ``history.csv``,
``predictions.npz``, the executed ``train.ipynb``'s papermill metadata) and from the profile's
``plan.json``; a directory's name is used only to say which directory is meant, never as data.

runs (loading) -> statistics -> compare (comparisons) -> tables, figures, text; readme (README blocks).
"""

from ..errors import ReportError
from .compare import (
    BLOG_POST,
    Agreement,
    Significance,
    Trend,
    architecture_ensembles,
    cardinality_trend,
    compare_all,
    compare_pair,
    seed_ensembles,
)
from .figures import (
    plot_cardinality,
    plot_confusion_matrices,
    plot_history,
    plot_per_class_accuracy,
    plot_reliability,
    plot_training_curves,
)
from .format import markdown_list, styled
from .runs import IncompleteRun, RunResult, Runs, load_runs
from .tables import (
    cardinality_table,
    comparisons_table,
    ensemble_table,
    headline_table,
    protocol_table,
    provenance_table,
    runs_table,
)
from .text import (
    cardinality_markdown,
    conclusions,
    ensembles_markdown,
    limitations,
    overview_markdown,
    readme_headline,
    title_markdown,
    warnings_markdown,
)

__all__ = [
    "BLOG_POST",
    "Agreement",
    "IncompleteRun",
    "ReportError",
    "RunResult",
    "Runs",
    "Significance",
    "Trend",
    "architecture_ensembles",
    "cardinality_markdown",
    "cardinality_table",
    "cardinality_trend",
    "compare_all",
    "compare_pair",
    "comparisons_table",
    "conclusions",
    "ensemble_table",
    "ensembles_markdown",
    "headline_table",
    "limitations",
    "load_runs",
    "markdown_list",
    "overview_markdown",
    "plot_cardinality",
    "plot_confusion_matrices",
    "plot_history",
    "plot_per_class_accuracy",
    "plot_reliability",
    "plot_training_curves",
    "protocol_table",
    "provenance_table",
    "readme_headline",
    "runs_table",
    "seed_ensembles",
    "styled",
    "title_markdown",
    "warnings_markdown",
]
