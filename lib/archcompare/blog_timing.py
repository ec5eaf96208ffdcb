"""The conditions the blog post's timing claim was made under, stated once for every module that needs them.

The bench measures step-mode rows under them (``bench_steps``); the report judges a measured slowdown
against the claim only under them (``report.analysis.reference``). The post's loop: fp32, batch 32,
PyTorch's default memory layout, one eager Python step after another. A slowdown measured otherwise
(bf16, channels_last, another batch, captured steps) is reported with its conditions and no verdict:
grouped convolutions gain differently from those choices. This module imports nothing of the
package, so the bench and the report can both import it without importing each other.
"""

from __future__ import annotations

from types import MappingProxyType

BLOG_TIMING_CONDITIONS = MappingProxyType({"precision": "fp32", "batch_size": 32, "channels_last": False})
BLOG_STEP_MODE = "eager"  # the blog's loop: one Python step after another, no captured graphs
