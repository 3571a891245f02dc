r"""torch_nri: neural relational inference for PyTorch Geometric."""
__version__ = "0.2.0"

# Before torch is imported, or never: huge pages for large buffers.
from torch_nri._allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()

from torch_nri._validation import value_checks  # noqa: E402
from torch_nri import datasets, graphs, losses, metrics, models, nn, simulations  # noqa: E402

__all__ = ["datasets", "graphs", "losses", "metrics", "models", "nn", "simulations",
           "value_checks", "__version__"]
