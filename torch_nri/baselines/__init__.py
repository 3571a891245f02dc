r"""Baselines of the NRI and NRI-MPM papers, on the same data and protocol as
the models."""
from torch_nri.baselines.correlation import CorrelationBaseline, best_threshold
from torch_nri.baselines.data import as_arrays
from torch_nri.baselines.lstm_correlation import LSTMCorrelationBaseline

__all__ = ["CorrelationBaseline", "LSTMCorrelationBaseline", "best_threshold", "as_arrays"]
