r"""Baselines of the NRI and NRI-MPM papers, on the same data and protocol as
the models. The baselines that are NRI's own layers trained differently (the
supervised encoder, the decoder on the full or true graph) are models of
:mod:`torch_nri.models`, trained by :func:`torch_nri.training.train`."""
from torch_nri.baselines.correlation import CorrelationBaseline, best_threshold
from torch_nri.baselines.data import as_arrays
from torch_nri.baselines.lstm_correlation import LSTMCorrelationBaseline
from torch_nri.baselines.lstm_network import LSTMNetwork
from torch_nri.baselines.lstm_path import LSTMPathBaseline
from torch_nri.baselines.static import static_mse
from torch_nri.baselines.runner import (BASELINES, PATH_BASELINES, check_baseline_options,
                                         run_baseline)

__all__ = ["CorrelationBaseline", "LSTMCorrelationBaseline", "LSTMNetwork", "LSTMPathBaseline",
           "best_threshold", "as_arrays", "static_mse", "BASELINES", "PATH_BASELINES",
           "check_baseline_options", "run_baseline"]
