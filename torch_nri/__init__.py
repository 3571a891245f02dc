r"""torch_nri: neural relational inference for PyTorch Geometric."""
__version__ = "0.2.0"

# Before torch is imported, or never: huge pages for large buffers.
from torch_nri._allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()

from torch_nri._validation import value_checks  # noqa: E402
from torch_nri import datasets, graphs, losses, metrics, models, nn, simulations  # noqa: E402

__all__ = ["datasets", "graphs", "losses", "metrics", "models", "nn", "simulations",
           "value_checks", "infer_graph", "InferredGraph", "__version__"]

# torch_nri.training, imported on first use of these names: `import torch_nri`
# does not load the training loop and matplotlib.
_FROM_TRAINING = ("infer_graph", "InferredGraph")


def __getattr__(name: str):
    if name in _FROM_TRAINING:
        from torch_nri import training

        return getattr(training, name)
    raise AttributeError(f"module 'torch_nri' has no attribute {name!r}")
