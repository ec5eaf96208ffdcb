"""Every error this package raises on input a user can fix, under one base class.

The command line prints an :class:`ArchCompareError` as one line, ``error: ...``, without a
traceback; anything else is a bug and keeps its traceback. This module imports nothing of the
package, so every other module can raise these without importing upwards.
"""


class ArchCompareError(Exception):
    """Base class of the errors this package raises on bad input; the CLI prints them in one line."""


class ConfigError(ArchCompareError, ValueError):
    """A run configuration field has a value that is not allowed."""


class DataError(ArchCompareError):
    """A dataset cannot be found, read or used as asked."""


class TrainingError(ArchCompareError):
    """A run cannot start or continue."""


class NonFiniteLossError(TrainingError):
    """The training loss became NaN or infinite."""


class CheckpointError(TrainingError):
    """A checkpoint exists but cannot be read."""


class RecordError(ArchCompareError):
    """A run's summary.json does not hold the record this version of the package reads."""


class PipelineError(ArchCompareError):
    """A profile, a DATA value or a step of the pipeline is wrong."""


class ReportError(ArchCompareError):
    """The runs cannot be reported on as asked (for example, paired runs saw different test labels)."""
