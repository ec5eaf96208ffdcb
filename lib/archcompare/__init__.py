"""ResNet-50 vs ResNeXt-50 on CIFAR-10: the package the notebooks call.

Along the flow of data: ``config`` (RunConfig) -> ``data`` (datasets as uint8 tensors, batched
augmentation) -> ``models`` (torchvision ResNets by name) -> ``training`` (train one run into a run
directory) -> ``metrics`` -> ``report`` (tables, figures, conclusions). ``provenance`` records where
results came from; ``pipeline`` and ``cli`` are what ``make`` runs; ``bench`` is ``make bench``.
Importing the package has no side effects.
"""

__version__ = "0.1.0"
