r"""Fitting and testing the baselines of :mod:`torch_nri.baselines` on the
splits of a dataset, as ``torch-nri baseline NAME`` does."""
import time
from typing import Any, Dict, Optional, Sequence

import torch
from torch.utils.data import Dataset

from torch_nri._validation import check_int, check_real
from torch_nri.baselines.correlation import CorrelationBaseline
from torch_nri.baselines.data import as_arrays
from torch_nri.baselines.lstm_correlation import LSTMCorrelationBaseline
from torch_nri.baselines.lstm_path import LSTMPathBaseline
from torch_nri.baselines.static import static_mse
from torch_nri.protocol import HORIZON, check_protocol
from torch_nri.device import check_device_name, resolve_device

#: The baselines of NRI's Tables 1 and 2 that are not NRI models (those are
#: trained by ``torch-nri train --model``): edge recovery, then path prediction.
EDGE_BASELINES = ("correlation", "lstm-correlation")
PATH_BASELINES = ("static", "lstm-single", "lstm-joint")
BASELINES = EDGE_BASELINES + PATH_BASELINES


def check_baseline_options(hidden: int = 256, epochs: int = 10, lr: Optional[float] = None,
                           seed: int = 42, max_seconds: Optional[float] = None,
                           observed_steps: Optional[int] = None, horizon: int = HORIZON,
                           device: str = "cpu") -> None:
    r"""Raises a :class:`ValueError` naming the first option of
    :func:`run_baseline` that is out of range, before any data or fitting."""
    check_int(hidden, "hidden", 1)
    check_int(epochs, "epochs", 1)
    check_real(lr, "lr", 0, optional=True)
    check_int(seed, "seed", 0)
    check_real(max_seconds, "max_seconds", 0, optional=True)
    check_int(observed_steps, "observed_steps", 1, optional=True)
    check_int(horizon, "horizon", 1)
    check_device_name(device)


def run_baseline(name: str, splits: Sequence[Dataset], hidden: int = 256, epochs: int = 10,
                 lr: Optional[float] = None, seed: int = 42,
                 max_seconds: Optional[float] = None, observed_steps: Optional[int] = None,
                 horizon: int = HORIZON, device: str = "cpu") -> Dict[str, Any]:
    r"""Fits the baseline ``name`` (:data:`BASELINES`) on the train and
    valid splits of ``splits`` and tests it on the test split, as in NRI's
    supplement D.1.1.

    Edge recovery ("correlation", "lstm-correlation") fits its threshold on
    the training and validation systems together (the LSTM itself on the
    training systems) and is scored on the first :math:`T` steps of the test
    systems, :math:`T` the training length, as the encoders are. Path
    prediction ("static", "lstm-single", "lstm-joint") follows the test
    protocol (:mod:`torch_nri.protocol`) as the models' runs do: the first
    ``observed_steps`` steps (by default the training length) observed, the
    next ``horizon`` predicted.

    Args:
        name (str): The baseline.
        splits (sequence of Dataset): Train, valid and test splits of
            equal-sized systems (:func:`~torch_nri.baselines.as_arrays`).
        hidden (int, optional): Size of the LSTMs. (default: :obj:`256`)
        epochs (int, optional): Epochs of the LSTMs. (default: :obj:`10`)
        lr (float, optional): Learning rate of the LSTMs. (default: each
            LSTM's own, 1e-3 for lstm-correlation, 5e-4 for the path LSTMs)
        seed (int, optional): Seed of the LSTMs' initialisation and
            shuffling. (default: :obj:`42`)
        max_seconds (float, optional): Training time budget of the LSTMs.
        observed_steps (int, optional): The observed steps of the test
            protocol. (default: the training trajectories' length)
        horizon (int, optional): The predicted steps of the test protocol.
            (default: :obj:`20`)
        device (str, optional): Where the LSTMs train (``"auto"``, ``"cpu"``,
            ``"cuda"``, ``"cuda:N"``). (default: ``"cpu"``)

    Returns:
        dict: ``accuracy``, ``threshold`` and ``absolute`` (edge recovery) or
        ``mse`` (path prediction, one value per step), ``num_examples``,
        ``seconds`` and, for the LSTMs, ``epochs``.
    """
    if name not in BASELINES:
        raise ValueError(f"'name' must be one of {BASELINES}, got {name!r}")
    check_baseline_options(hidden, epochs, lr, seed, max_seconds, observed_steps, horizon,
                           device)
    started = time.perf_counter()
    train_set, valid_set, test_set = splits
    x_train, edges_train = as_arrays(train_set)
    x_valid, edges_valid = as_arrays(valid_set)
    num_features, num_nodes = x_train.size(3), x_train.size(2)
    observed = x_train.size(1) if observed_steps is None else observed_steps
    options = {} if lr is None else {"lr": lr}
    if name in PATH_BASELINES:
        x_test, _ = as_arrays(test_set)
        check_protocol(x_test.size(1), observed, horizon, source="the test split")
        if name == "static":
            results: Dict[str, Any] = {"mse": static_mse(x_test, observed, horizon),
                                       "num_examples": x_test.size(0)}
        else:
            torch.manual_seed(seed)
            model = LSTMPathBaseline(num_features, hidden,
                                     num_nodes=num_nodes if name == "lstm-joint" else None)
            model.to(resolve_device(device))
            model.fit(x_train, epochs=epochs, seed=seed, valid=x_valid,
                      max_seconds=max_seconds, **options)
            results = {**model.evaluate(x_test, observed, horizon),
                       "epochs": len(model.history)}
    else:
        x_test, edges_test = as_arrays(test_set, num_steps=x_train.size(1))
        if edges_train is None or edges_valid is None or edges_test is None:
            raise ValueError(f"the {name} baseline is fitted and scored on the true relations; "
                             f"the data has none in every split ('edges')")
        x_fit, edges_fit = torch.cat([x_train, x_valid]), torch.cat([edges_train, edges_valid])
        if name == "correlation":
            baseline = fitted = CorrelationBaseline().fit(x_fit, edges_fit)
        else:
            torch.manual_seed(seed)
            baseline = LSTMCorrelationBaseline(num_features, hidden).to(resolve_device(device))
            baseline.fit(x_train, edges_train, epochs=epochs, seed=seed,
                         threshold_data=(x_fit, edges_fit), max_seconds=max_seconds, **options)
            fitted = baseline.correlation
        results = {"accuracy": baseline.score(x_test, edges_test),
                   "threshold": fitted.threshold, "absolute": fitted.absolute,
                   "num_examples": x_test.size(0)}
    results["seconds"] = time.perf_counter() - started
    return results
