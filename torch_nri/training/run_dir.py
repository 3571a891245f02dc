r"""The directory of a training run (``torch-nri train --out``) and its files,
each read and written here alone: ``config.json`` (the run's
:class:`~torch_nri.training.TrainConfig`), ``stats.json`` (the training
data's normalisation), ``best.pt`` and ``last.pt`` (its checkpoints),
``log.csv`` (a row per epoch), ``results.json`` (its test results) and its
plots. Every file is written atomically (:mod:`torch_nri.io`)."""
import csv
import io
import json
import os
from typing import Any, Dict, List

from torch_nri.datasets import MinMaxStats
from torch_nri.io import atomic_torch_save, atomic_write_text, describe_error
from torch_nri.models import read_checkpoint

#: The columns of ``log.csv``, one row per epoch.
LOG_FIELDS = ("epoch", "lr", "seconds", "train_nll", "train_kl", "train_mse", "train_accuracy",
              "valid_nll", "valid_kl", "valid_mse", "valid_accuracy")
#: The plots of a run, each drawn into ``NAME.png``.
PLOTS = ("curves", "trajectories", "graph", "roc")
# What stats.json is, said where it cannot be read.
_STATS = "the run's normalisation, needed for --data"


class RunDirectory:
    r"""The files of the run in the directory ``path``: their paths, and how
    each is written and read, in the formats that every torch_nri version
    wrote. A missing file is a :class:`FileNotFoundError` that names it and
    says what it is; a file that cannot be read is a :class:`ValueError`
    that names it.

    Args:
        path (str): The run's directory (``TrainConfig.out``).
    """

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def config_path(self) -> str:
        r"""``config.json``: the run's configuration."""
        return os.path.join(self.path, "config.json")

    @property
    def stats_path(self) -> str:
        r"""``stats.json``: the normalisation of the training data."""
        return os.path.join(self.path, "stats.json")

    @property
    def best_path(self) -> str:
        r"""``best.pt``: the checkpoint of the best validation epoch."""
        return os.path.join(self.path, "best.pt")

    @property
    def last_path(self) -> str:
        r"""``last.pt``: the checkpoint of the last epoch, to resume from."""
        return os.path.join(self.path, "last.pt")

    @property
    def log_path(self) -> str:
        r"""``log.csv``: the metrics of every epoch (:data:`LOG_FIELDS`)."""
        return os.path.join(self.path, "log.csv")

    @property
    def results_path(self) -> str:
        r"""``results.json``: the test results."""
        return os.path.join(self.path, "results.json")

    def plot_path(self, name: str) -> str:
        r"""The file ``NAME.png`` of the plot ``name``, one of :data:`PLOTS`."""
        if name not in PLOTS:
            raise ValueError(f"'name' must be one of {PLOTS}, got {name!r}")
        return os.path.join(self.path, f"{name}.png")

    def read_config(self) -> Dict[str, Any]:
        r"""The configuration in ``config.json``, as the dict that
        :meth:`~torch_nri.training.TrainConfig.from_dict` reads (what
        :meth:`~torch_nri.training.TrainConfig.load` does)."""
        path = _existing(self.config_path, f"no run in {self.path}: {self.config_path} is "
                                           f"missing")
        try:
            with open(path) as f:
                saved = json.load(f)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path} is not a readable run configuration: {error}") from None
        if not isinstance(saved, dict):
            raise ValueError(f"{path} is not a run configuration: it holds a "
                             f"{type(saved).__name__}, not an object")
        return saved

    def write_config(self, config: Dict[str, Any]) -> None:
        r"""Writes ``config.json``: ``config`` is
        :meth:`~torch_nri.training.TrainConfig.to_dict`'s."""
        _write_json(config, self.config_path)

    def read_stats(self) -> MinMaxStats:
        r"""The normalisation of the training data, in ``stats.json``."""
        path = _existing(self.stats_path, f"{self.stats_path} ({_STATS}) is missing")
        try:
            with open(path) as f:
                return MinMaxStats.from_dict(json.load(f))
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{path} ({_STATS}) is not readable: "
                             f"{describe_error(error)}") from None

    def write_stats(self, stats: MinMaxStats) -> None:
        r"""Writes ``stats.json``."""
        _write_json(stats.to_dict(), self.stats_path)

    def read_best(self, map_location: Any = "cpu") -> Dict[str, Any]:
        r"""The checkpoint in ``best.pt``
        (:func:`~torch_nri.models.read_checkpoint`), on ``map_location``."""
        path = _existing(self.best_path, f"no trained model in {self.path}: {self.best_path} "
                                         f"(the run's best checkpoint, written by torch-nri "
                                         f"train) is missing")
        return read_checkpoint(path, map_location=map_location)

    def write_best(self, checkpoint: Dict[str, Any]) -> None:
        r"""Writes ``best.pt``."""
        atomic_torch_save(checkpoint, self.best_path)

    def read_last(self) -> Dict[str, Any]:
        r"""The checkpoint in ``last.pt``, with the state to resume from."""
        path = _existing(self.last_path, f"nothing to resume in {self.path}: {self.last_path} "
                                         f"(the run's checkpoint of its last epoch) is missing")
        return read_checkpoint(path)

    def write_last(self, checkpoint: Dict[str, Any]) -> None:
        r"""Writes ``last.pt``."""
        atomic_torch_save(checkpoint, self.last_path)

    def read_log(self) -> List[Dict[str, float]]:
        r"""The rows of ``log.csv``: each epoch's :data:`LOG_FIELDS`, its
        ``epoch`` an :class:`int`, the others :class:`float`."""
        path = _existing(self.log_path, f"{self.log_path} (the run's log of its epochs) is "
                                        f"missing")
        try:
            with open(path, newline="") as f:
                return [{key: int(value) if key == "epoch" else float(value)
                         for key, value in row.items()} for row in csv.DictReader(f)]
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"{path} is not a readable log of epochs: "
                             f"{describe_error(error)}") from None

    def write_log(self, history: List[Dict[str, float]]) -> None:
        r"""Writes ``log.csv``: a row per epoch of ``history``, whose rows
        hold the :data:`LOG_FIELDS`."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(history)
        atomic_write_text(buffer.getvalue(), self.log_path)

    def read_results(self) -> Dict[str, Any]:
        r"""The test results in ``results.json``."""
        path = _existing(self.results_path, f"no test results in {self.path}: "
                                            f"{self.results_path} (written when training "
                                            f"ends) is missing")
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path} is not readable test results: "
                             f"{describe_error(error)}") from None

    def write_results(self, results: Dict[str, Any]) -> None:
        r"""Writes ``results.json``."""
        _write_json(results, self.results_path)


def _existing(path: str, missing: str) -> str:
    # The path of a file to read, or the error ``missing`` where there is none.
    if not os.path.isfile(path):
        raise FileNotFoundError(missing)
    return path


def _write_json(obj: Any, path: str) -> None:
    atomic_write_text(json.dumps(obj, indent=2), path)
