r"""The inferred graph as the product of a run (``torch-nri infer``): the
encoder's edge type probabilities for every candidate edge of every system
(:func:`infer_graph`), from the window of the test protocol that
:func:`~torch_nri.training.evaluate` reads, as tensors
(:class:`InferredGraph`) and as a ``.npz`` or ``.csv`` file
(:meth:`InferredGraph.save`); the mean graph of systems that share one
candidate graph (``shared=True``) and its scores against the true relations
(:func:`score_shared_graph`); and its plot (:func:`plot_inferred_graph`).

The encoder runs without gradients, one batch of systems at a time, so that
large systems take the bounded memory of evaluation (the layers chunk their
per-edge tensors on their own, :mod:`torch_nri.nn.chunking`); only the
result, :math:`K` probabilities per edge, is kept."""
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from torch_nri._validation import value_checks
from torch_nri.device import resolve_device
from torch_nri.graphs import reverse_edge_index
from torch_nri.io import atomic_write
from torch_nri.metrics import align_steps, edge_confusion
from torch_nri.models import ConfigurableModel
from torch_nri.training.batching import make_loader
from torch_nri.training.config import PAPER_DEFAULTS, TrainConfig
from torch_nri.training.evaluation import (edge_metrics, load_run_model, observed_steps_of,
                                           relations_of, run_dataset, window_relations)
from torch_nri.training.plots import (MAX_PLOT_OBJECTS, nearest_objects,
                                      plot_edge_probabilities, window_edges)

#: The file formats of :meth:`InferredGraph.save`, by extension.
GRAPH_FORMATS = (".npz", ".csv")

# Rows of a CSV file formatted at a time (bounds the memory of a large file).
_CSV_ROWS = 1 << 16


def graph_format(path: str, name: str = "out") -> str:
    r"""The format of a graph file by its extension, one of
    :data:`GRAPH_FORMATS`; a :class:`ValueError` names the argument
    ``name`` otherwise."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in GRAPH_FORMATS:
        raise ValueError(f"'{name}' must be a {' or '.join(GRAPH_FORMATS)} file (the extension "
                         f"chooses the format), got {path}")
    return extension


@dataclass(repr=False)
class InferredGraph:
    r"""The edge type probabilities that a model inferred for the candidate
    edges of a set of systems (:func:`infer_graph`): one row per candidate
    edge of each system, or, for a graph per step
    (:class:`~torch_nri.models.DNRI`), per candidate edge and step of the
    window (edge by edge, the steps of an edge in a row); or one row per
    candidate edge (and step) of the systems' shared candidate graph, the
    mean over the systems (:attr:`shared`).

    Attributes:
        edge_index (torch.Tensor): Sender and receiver of each row, ``[2, M]``,
            the objects numbered within their system (from 0).
        probs (torch.Tensor): The probability of each edge type, ``[M, K]``,
            the types in the model's order (float32).
        types (torch.Tensor): The most probable type of each row ``[M]``:
            of the encoder's logits (per system), of the mean probabilities
            (shared).
        observed_steps (int): The steps of the encoder's window.
        sample (torch.Tensor, optional): The system of each row ``[M]``;
            :obj:`None` for the shared graph.
        step (torch.Tensor, optional): The step of the window of each row
            ``[M]`` for a graph per step; else :obj:`None`.
        no_edge_type (int, optional): The type hard-coded as "no edge" (0
            for a run with ``skip_first``); else :obj:`None`.
        probs_undirected (torch.Tensor, optional): With ``undirected``, the
            mean of each row's probabilities and those of its reverse edge
            (the same system and step), ``[M, K]``; the row's own where its
            reverse is no candidate edge.
        num_samples (int): The systems read.
    """
    edge_index: Tensor
    probs: Tensor
    types: Tensor
    observed_steps: int
    sample: Optional[Tensor] = None
    step: Optional[Tensor] = None
    no_edge_type: Optional[int] = None
    probs_undirected: Optional[Tensor] = None
    num_samples: int = 1

    @property
    def shared(self) -> bool:
        r"""Whether this is the mean graph of systems that share one
        candidate graph (no :attr:`sample`)."""
        return self.sample is None

    @property
    def num_edge_types(self) -> int:
        r"""The edge types :math:`K`."""
        return self.probs.size(-1)

    def edge_probability(self) -> Tensor:
        r"""The probability of an edge of each row ``[M]``:
        :math:`1 - p(\text{no edge})` where the model has a no-edge type,
        else the probability of the most probable type other than the first
        (types learned without labels are named only up to a permutation:
        type 0 stands for "no edge" as often as not)."""
        if self.no_edge_type is not None:
            return 1 - self.probs[:, self.no_edge_type]
        return self.probs[:, 1:].amax(-1)

    def columns(self) -> Dict[str, Tensor]:
        r"""The rows' values by name, in the order of a CSV file's columns:
        ``sample`` (not for the shared graph), ``step`` (for a graph per
        step), ``sender``, ``receiver``, ``type``, ``p0`` ... ``p{K-1}`` and,
        with :attr:`probs_undirected`, ``p0_undirected`` ...
        ``p{K-1}_undirected``."""
        columns = {"sample": self.sample, "step": self.step, "sender": self.edge_index[0],
                   "receiver": self.edge_index[1], "type": self.types}
        columns.update({f"p{k}": self.probs[:, k] for k in range(self.num_edge_types)})
        if self.probs_undirected is not None:
            columns.update({f"p{k}_undirected": self.probs_undirected[:, k]
                            for k in range(self.num_edge_types)})
        return {name: column for name, column in columns.items() if column is not None}

    def save(self, path: str) -> None:
        r"""Writes the graph to ``path`` atomically (the file has all of it or
        does not change), in the format of its extension:

        - ``.npz``: the arrays ``edge_index`` ``[2, M]``, ``probs``
          ``[M, K]``, ``type`` ``[M]``, and where they apply ``sample``,
          ``step``, ``probs_undirected`` and ``no_edge_type`` (a scalar).
        - ``.csv``: a header and one row per row of the graph, the columns of
          :meth:`columns` (probabilities to 9 significant digits, which
          read back as the same float32). It does not say the no-edge type:
          the run's ``config.json`` does (``skip_first``: type 0).
        """
        if graph_format(path, "path") == ".npz":
            arrays = {"edge_index": self.edge_index, "probs": self.probs, "type": self.types,
                      "sample": self.sample, "step": self.step,
                      "probs_undirected": self.probs_undirected}
            arrays = {name: array.numpy() for name, array in arrays.items() if array is not None}
            if self.no_edge_type is not None:
                arrays["no_edge_type"] = np.array(self.no_edge_type)
            atomic_write(path, lambda f: np.savez(f, **arrays))
            return
        columns = self.columns()
        formats = ["%d" if not column.is_floating_point() else "%.9g"
                   for column in columns.values()]

        def write(f) -> None:
            f.write((",".join(columns) + "\n").encode())
            for start in range(0, self.probs.size(0), _CSV_ROWS):
                rows = torch.stack([column[start:start + _CSV_ROWS].double()
                                    for column in columns.values()], 1)
                np.savetxt(f, rows.numpy(), fmt=formats, delimiter=",")

        atomic_write(path, write)

    def __repr__(self) -> str:
        fields = {"edge_index": self.edge_index, "probs": self.probs, "types": self.types,
                  "sample": self.sample, "step": self.step,
                  "probs_undirected": self.probs_undirected}
        shapes = ", ".join(f"{name}={list(value.shape)}" for name, value in fields.items()
                           if value is not None)
        return (f"{type(self).__name__}({shapes}, num_samples={self.num_samples}, "
                f"observed_steps={self.observed_steps}, no_edge_type={self.no_edge_type})")


def _source(data: Dataset) -> str:
    # How an error names the data.
    return getattr(data, "path", None) or "the data"


def check_sample(sample: int, data: Dataset) -> None:
    r"""Raises a :class:`ValueError` unless ``sample`` is a system of ``data``."""
    if not 0 <= sample < len(data):
        raise ValueError(f"'sample' must lie in [0, {len(data) - 1}] (the systems of "
                         f"{_source(data)}), got {sample}")


def _pair_means(probs: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
    # Each edge's probabilities averaged with its reverse's (its own without one).
    reverse = reverse_edge_index(edge_index, num_nodes)
    paired = reverse >= 0
    means = probs.clone()
    means[paired] = (probs[paired] + probs[reverse[paired]]) / 2
    return means


def _check_shared(local: Tensor, edges: Tensor, reference: Tensor, first: int,
                  source: str) -> None:
    # Raises unless every system of a batch (its edges `local` [2, sum E], `edges` per
    # system; systems `first`, ...) has the candidate graph `reference` of system 0.
    count = reference.size(1)
    differs = edges != count
    if not differs.any():
        differs = (local.view(2, edges.numel(), count)
                   != reference[:, None]).any(-1).any(0).cpu()
    if not differs.any():
        return
    index = int(differs.nonzero()[0])
    seen = (f"{int(edges[index])} candidate edges, system 0 has {count}"
            if edges[index] != count else
            f"{count} candidate edges as system 0, between other objects")
    raise ValueError(f"a shared graph (shared=True, --shared) needs the same candidate graph "
                     f"for every system, but system {first + index} of {source} has another "
                     f"({seen}); infer the graph per system, or use a candidate graph that does "
                     f"not depend on the positions (graph='full')")


def _rows_per_step(edge_index: Tensor, values: List[Optional[Tensor]], num_steps: int):
    # [E, T, ...] per edge and step -> [E T, ...] rows, edge by edge; the step of each row.
    step = torch.arange(num_steps).repeat(edge_index.size(1))
    flat = [None if v is None else v.reshape(-1, *v.shape[2:]) for v in values]
    return edge_index.repeat_interleave(num_steps, dim=1), flat, step


@torch.no_grad()
def infer_graph(run: Union[str, ConfigurableModel], data: Union[str, Dataset],
                shared: bool = False, undirected: bool = False,
                observed_steps: Optional[int] = None, no_edge_type: Optional[int] = None,
                batch_size: Optional[int] = None,
                device: Union[str, torch.device] = "auto") -> InferredGraph:
    r"""The edge type probabilities (the softmax of the encoder's logits,
    :meth:`~torch_nri.models.ConfigurableModel.infer_edges`) of every
    candidate edge of every system of ``data``, from the encoder's window of
    the test protocol (the first ``observed_steps`` steps), as
    :func:`~torch_nri.training.evaluate` reads them: the most probable types
    are those its edge accuracy scores. Without gradients, in evaluation
    mode, a batch of systems at a time.

    Args:
        run (str or ConfigurableModel): A run directory (its ``config.json``
            and best checkpoint ``best.pt``,
            :func:`~torch_nri.training.evaluation.load_run_model`), or a
            model that infers edges.
        data (str or Dataset): A trajectory ``.npz`` file, read as the run
            reads data (:func:`~torch_nri.training.evaluation.run_dataset`:
            its normalisation and candidate graph; for a run directory
            only), or a dataset of systems as the model reads them. True
            relations are not needed.
        shared (bool, optional): Return the mean over the systems of each
            candidate edge's probabilities, for systems that all have the
            same candidate graph (a :class:`ValueError` names the first
            that does not). (default: :obj:`False`)
        undirected (bool, optional): Also average each edge's probabilities
            with its reverse's (:attr:`InferredGraph.probs_undirected`).
            (default: :obj:`False`)
        observed_steps (int, optional): The encoder's window. (default: the
            run's, :func:`~torch_nri.training.evaluation.observed_steps_of`;
            all steps of the data for a model)
        no_edge_type (int, optional): The type that means "no edge".
            (default: 0 where the run's or the model's decoder has
            ``skip_first``, else none)
        batch_size (int, optional): Systems per batch. (default: the run's;
            the NRI paper's 128 for a model)
        device (str or torch.device, optional): Where the model runs
            (:func:`~torch_nri.device.resolve_device`). (default: ``"auto"``)

    Returns:
        InferredGraph: The graph, on the CPU.
    """
    device = device if isinstance(device, torch.device) else resolve_device(device)
    if isinstance(run, str):
        config = TrainConfig.load(run)
        model = load_run_model(run, config, device)
        if isinstance(data, str):
            data = run_dataset(run, data, config)
        if observed_steps is None:
            observed_steps = observed_steps_of(config)
        if no_edge_type is None and config.skip_first:
            no_edge_type = 0
        batch_size = batch_size or config.batch_size
    elif isinstance(run, ConfigurableModel):
        if isinstance(data, str):
            raise ValueError(f"'data' must be a dataset where 'run' is a model, got the file "
                             f"{data}: a file is read with a run's normalisation (its "
                             f"stats.json); pass the run directory")
        model = run.to(device)
        if no_edge_type is None and getattr(getattr(model, "decoder", None), "skip_first",
                                            False):
            no_edge_type = 0
        batch_size = batch_size or PAPER_DEFAULTS["batch_size"]
    else:
        raise ValueError(f"'run' must be a run directory or a model of torch_nri.models, got "
                         f"{type(run).__name__}")
    if getattr(model, "encoder", None) is None:
        raise ValueError(f"{type(model).__name__} infers no graph (it decodes on a given one); "
                         f"infer needs a model with an encoder")
    if len(data) == 0:
        raise ValueError(f"{_source(data)} holds no systems")
    num_steps = data[0].x.size(1)
    if observed_steps is None:
        observed_steps = num_steps
    if num_steps < observed_steps:
        raise ValueError(f"the encoder reads a window of {observed_steps} steps (the run's "
                         f"observed_steps), but the trajectories of {_source(data)} have "
                         f"{num_steps}")
    model.eval()
    parts: Dict[str, List[Tensor]] = {"edge_index": [], "sample": [], "probs": [],
                                      "types": [], "undirected": []}
    reference: Optional[Tensor] = None  # shared: the first system's candidate graph
    sums: List[Tensor] = []  # shared: the sums over systems of probs (and pair means)
    first = 0  # the systems before the batch
    with value_checks(False):  # a dataset's systems, checked where they were read
        for batch in make_loader(data, batch_size, device):
            batch = batch.to(device, non_blocking=True)
            relations = relations_of(model, batch) if "edge_type" in batch else {}
            logits, _ = model.infer_edges(batch.x[:, :observed_steps], batch.edge_index,
                                          batch=batch.batch, hard=True,
                                          sizes=getattr(batch, "sizes", None), **relations)
            num_graphs = batch.num_graphs
            system = batch.batch[batch.edge_index[0]]  # of each edge, within the batch
            nodes = torch.bincount(batch.batch, minlength=num_graphs)
            local = batch.edge_index - (nodes.cumsum(0) - nodes)[system]
            probs = logits.float().softmax(-1)
            values = [probs]
            if undirected:
                values.append(_pair_means(probs, batch.edge_index, batch.x.size(0)))
            if not shared:
                parts["edge_index"].append(local.cpu())
                parts["sample"].append((system + first).cpu())
                parts["types"].append(logits.argmax(-1).cpu())
                parts["probs"].append(probs.cpu())
                parts["undirected"].extend(v.cpu() for v in values[1:])
                first += num_graphs
                continue
            edges = torch.bincount(system, minlength=num_graphs).cpu()
            if reference is None:
                reference = local[:, :int(edges[0])]
            count = reference.size(1)
            _check_shared(local, edges, reference, first, _source(data))
            batch_sums = [v.view(num_graphs, count, *v.shape[1:]).double().sum(0).cpu()
                          for v in values]
            sums = batch_sums if not sums else [s + b for s, b in zip(sums, batch_sums)]
            first += num_graphs
    if shared:
        means = [(s / first).float() for s in sums]
        edge_index, sample = reference.cpu(), None
        probs, types = means[0], means[0].argmax(-1)
        pair_means = means[1] if undirected else None
    else:
        edge_index, sample = torch.cat(parts["edge_index"], 1), torch.cat(parts["sample"])
        probs, types = torch.cat(parts["probs"]), torch.cat(parts["types"])
        pair_means = torch.cat(parts["undirected"]) if undirected else None
    step = None
    if probs.dim() == 3:  # a graph per step: a row per edge and step
        steps = probs.size(1)
        if sample is not None:
            sample = sample.repeat_interleave(steps)
        edge_index, (probs, types, pair_means), step = _rows_per_step(
            edge_index, [probs, types, pair_means], steps)
    return InferredGraph(edge_index=edge_index, probs=probs, types=types,
                         observed_steps=observed_steps, sample=sample, step=step,
                         no_edge_type=no_edge_type, probs_undirected=pair_means,
                         num_samples=first)


def score_shared_graph(graph: InferredGraph, data: Dataset,
                       permutation_invariant: bool = True) -> Dict[str, Any]:
    r"""Scores the mean graph of the systems of ``data`` (:func:`infer_graph`
    with ``shared=True``) against their true relations, as
    :func:`~torch_nri.training.evaluate` scores each system's graph
    (:func:`~torch_nri.training.evaluation.edge_metrics`: the same type
    matching, on the encoder's window). Where the systems' relations
    differ, the one graph is scored against each system's, and
    ``shared_labels_differ`` says so.

    Args:
        graph (InferredGraph): The shared graph of ``data``.
        data (Dataset): The systems, with their true relations
            (``edge_type``).
        permutation_invariant (bool, optional): Match the types, as for a
            model that learned them without labels. (default: :obj:`True`)

    Returns:
        dict: ``shared_accuracy``, ``shared_f1``, ``shared_auroc`` (where
        both edges and non-edges are true) and ``shared_labels_differ``;
        empty where ``data`` has no true relations.
    """
    if not graph.shared:
        raise ValueError("'graph' must be the shared graph of the systems (infer_graph with "
                         "shared=True), got a graph per system")
    if "edge_type" not in data[0]:
        return {}
    truth = torch.stack([window_relations(data[i].edge_type, graph.observed_steps)
                         for i in range(len(data))])  # [S, E] or [S, E, T]
    probs = graph.probs
    if graph.step is not None:  # rows edge by edge, the steps of an edge in a row
        steps = int(graph.step.max()) + 1
        probs = probs.view(-1, steps, graph.num_edge_types)
    differ = bool((truth != truth[:1]).any())
    if differ:  # the one graph against each system's relations
        probs = probs.expand(truth.size(0), *probs.shape).flatten(0, 1)
        truth = truth.flatten(0, 1)
    else:
        truth = truth[0]
    confusion = edge_confusion(probs, truth, graph.num_edge_types)
    scored_probs, scored_types = align_steps(probs, truth, pred_dims=1)
    metrics = edge_metrics(confusion, scored_probs, scored_types != 0, permutation_invariant,
                           graph.no_edge_type)
    return {**{f"shared_{key}": value for key, value in metrics.items()},
            "shared_labels_differ": differ}


def plot_inferred_graph(graph: InferredGraph, data: Dataset, path: str, sample: int = 0,
                        position_features: Optional[Sequence[int]] = None) -> None:
    r"""Draws the graph of system ``sample`` of ``data`` (for the shared
    graph, over that system's positions) into the PNG file ``path``
    (:func:`~torch_nri.training.plots.plot_edge_probabilities`): the
    candidate edges over the objects' positions at the first step, coloured
    by the probability of an edge (:meth:`InferredGraph.edge_probability`;
    for a graph per step, that of the first step of the window), beside the
    heat-map of the same probabilities. A system of more than
    :data:`~torch_nri.training.plots.MAX_PLOT_OBJECTS` objects is drawn as
    the window of the objects nearest object 0, stated in the title.

    Args:
        graph (InferredGraph): The graph that :func:`infer_graph` inferred
            for ``data``.
        data (Dataset): The systems (their positions, in the file's units
            where the dataset has ``stats``).
        path (str): The PNG file.
        sample (int, optional): The system drawn. (default: :obj:`0`)
        position_features (list of int, optional): The features that are
            positions (the first two are drawn). (default: the dataset's
            ``position_features``, else features 0 and 1; without two
            features, the objects are drawn on a circle)
    """
    check_sample(sample, data)
    system = data[sample]
    num_nodes, num_features = system.x.size(0), system.x.size(-1)
    if position_features is None:
        position_features = getattr(data, "position_features",
                                    [0, 1] if num_features >= 2 else None)
    start = system.x[:, 0]
    if getattr(data, "stats", None) is not None:
        start = data.stats.denormalize(start)
    rows = torch.ones(graph.probs.size(0), dtype=torch.bool)
    if not graph.shared:
        rows &= graph.sample == sample
    if graph.step is not None:
        rows &= graph.step == 0
    edge_index, scores = graph.edge_index[:, rows], graph.edge_probability()[rows]
    positions = None
    if position_features is not None and len(position_features) >= 2:
        positions = start[:, list(position_features)[:2]]
    what = (f"mean of {graph.num_samples} systems over system {sample}" if graph.shared
            else f"system {sample}")
    title = what + (", step 0 of the window" if graph.step is not None else "")
    if num_nodes > MAX_PLOT_OBJECTS:
        shown = (nearest_objects(start[:, list(position_features)])
                 if position_features is not None else torch.arange(MAX_PLOT_OBJECTS))
        edge_index, kept = window_edges(edge_index, shown, num_nodes)
        scores, num_nodes = scores[kept], shown.numel()
        positions = None if positions is None else positions[shown]
        title += (f": the {num_nodes} of {system.x.size(0)} objects "
                  + ("nearest object 0" if position_features is not None else "first"))
    label = (f"p(edge) = 1 - p(type {graph.no_edge_type})" if graph.no_edge_type is not None
             else "p(edge) = largest p(type >= 1)")
    plot_edge_probabilities(positions, edge_index, scores, num_nodes, path, label, title)
