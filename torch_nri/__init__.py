r"""torch_nri: neural relational inference for PyTorch Geometric."""
from torch_nri import graphs, losses, metrics, models, nn

__version__ = "0.1.0"

__all__ = ["graphs", "losses", "metrics", "models", "nn", "__version__"]
