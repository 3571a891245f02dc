r"""torch_nri: neural relational inference for PyTorch Geometric."""
from torch_nri import datasets, graphs, losses, metrics, models, nn, simulations

__version__ = "0.1.0"

__all__ = ["datasets", "graphs", "losses", "metrics", "models", "nn", "simulations",
           "__version__"]
