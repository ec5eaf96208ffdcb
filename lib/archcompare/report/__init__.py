"""The comparison report: every table, figure and sentence the compare notebook shows.

The notebook is a thin sequence of calls into this package, so its numbers and its text can be
tested. Everything comes from the runs' own files (``summary.json``, ``history.csv``,
``predictions.npz``, the executed ``train.ipynb``'s papermill metadata) and from the profile's
``plan.json``; a directory's name is used only to say which directory is meant, never as data.

runs (loading) -> analysis (numbers and verdicts, typed results) -> wording (sentences), tables,
figures (formatting them); format (the one rounding), display (tables and numbered figures in the
notebook), readme (writes the README's generated blocks).
"""

from ..errors import ReportError
from .analysis.bench import bench_timings
from .analysis.cardinality import Trend, cardinality_trend
from .analysis.consistency import error_consistency
from .analysis.ensembles import architecture_ensembles, seed_ensembles
from .analysis.pairs import Significance, compare_all, compare_pair
from .analysis.penalty import data_penalty
from .analysis.reference import BLOG_POST
from .analysis.timing import Agreement
from .display import Captions, styled
from .figures import (
    plot_cardinality,
    plot_confusion_matrices,
    plot_headline,
    plot_history,
    plot_per_class_accuracy,
    plot_per_class_difference,
    plot_reliability,
    plot_training_curves,
)
from .format import markdown_list
from .runs import IncompleteRun, RunResult, Runs, load_runs
from .tables import (
    cardinality_table,
    comparisons_table,
    consistency_table,
    ensemble_table,
    equal_cost_table,
    equal_model_count_table,
    headline_table,
    protocol_table,
    provenance_table,
    runs_table,
)
from .wording.calibration import calibration_markdown, caption_reliability
from .wording.captions import (
    caption_confusion,
    caption_headline,
    caption_per_class_difference,
    caption_training_curves,
)
from .wording.cardinality import caption_cardinality, cardinality_markdown
from .wording.conclusions import conclusions
from .wording.consistency import consistency_markdown
from .wording.ensembles import ensembles_markdown
from .wording.limitations import limitations
from .wording.overview import overview_markdown, title_markdown, warnings_markdown
from .wording.readme import readme_headline, readme_timings
from .wording.timing import headline_notes

__all__ = [
    "BLOG_POST",
    "Agreement",
    "Captions",
    "IncompleteRun",
    "ReportError",
    "RunResult",
    "Runs",
    "Significance",
    "Trend",
    "readme_timings",
    "plot_per_class_difference",
    "plot_headline",
    "equal_cost_table",
    "data_penalty",
    "caption_training_curves",
    "caption_reliability",
    "caption_per_class_difference",
    "caption_headline",
    "caption_confusion",
    "caption_cardinality",
    "bench_timings",
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
    "calibration_markdown",
    "consistency_markdown",
    "consistency_table",
    "equal_model_count_table",
    "error_consistency",
    "headline_notes",
]
