"""ResNet-50 vs ResNeXt-50 on CIFAR-10: the package the notebooks call.

Along the flow of data: ``config`` (RunConfig) -> ``data`` (spec, sources: datasets as uint8
tensors; augment: batched augmentation) -> ``architectures`` and ``models`` (torchvision ResNets by
name) -> ``training`` (one run into a run directory) -> ``record`` (its typed ``summary.json``) ->
``report`` (tables, figures, conclusions). Beside it: ``errors`` (every error, imported by all),
``provenance`` (training code version, git, environment), ``files``, ``paths``, ``interrupts``,
``metrics``; ``pipeline`` and ``cli`` are what ``make`` runs; ``probe`` and ``bench`` measure speed.
Importing the package has no side effects.
"""

__version__ = "0.1.0"
