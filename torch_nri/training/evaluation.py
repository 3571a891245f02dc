r"""The test protocol of the papers (:mod:`torch_nri.protocol`) applied to a
model (:func:`evaluate`) and to a trained run (:func:`evaluate_run`, which
also draws the run's trajectory and graph plots)."""
import sys
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset
from torch_geometric.loader import DataLoader

from torch_nri._validation import value_checks
from torch_nri.datasets import TrajectoryDataset
from torch_nri.device import resolve_device
from torch_nri.metrics import (accuracy_from_confusion, align_steps, asymmetry_counts,
                               best_type_permutation, edge_auroc, edge_confusion,
                               edge_presence_scores, f1_from_confusion, roc_curve,
                               step_confusion)
from torch_nri.models import ConfigurableModel, model_from_checkpoint
from torch_nri.protocol import OBSERVED_STEPS, protocol_steps, static_squared_error
from torch_nri.training import distributed
from torch_nri.training.batching import make_loader
from torch_nri.training.builders import build_datasets, trajectory_options
from torch_nri.training.config import TrainConfig
from torch_nri.training.distributed import Context
from torch_nri.training.registry import MODELS, model_layers
from torch_nri.training.plots import (MAX_PLOT_OBJECTS, nearest_objects, plot_graph,
                                      plot_graph_over_time, plot_roc, plot_trajectories,
                                      window_edges)
from torch_nri.training.run_dir import RunDirectory


def relations_of(model: ConfigurableModel, batch) -> Dict[str, Any]:
    r"""The true relations as the keyword argument ``edge_type`` for a model
    that takes them (:attr:`~torch_nri.models.ConfigurableModel.uses_relations`),
    nothing for one that infers them."""
    return {"edge_type": batch.edge_type} if model.uses_relations else {}


def window_relations(edge_type: Tensor, observed_steps: int) -> Tensor:
    r"""The true relations of the encoder's window: all of them where they
    are one per edge, the first ``observed_steps`` steps where they change
    over time (``[E, T]``), so that a static graph and a graph per step are
    scored on the same steps."""
    return edge_type[:, :observed_steps] if edge_type.dim() == 2 else edge_type


def model_accuracy(model: ConfigurableModel, confusion: Tensor,
                   no_edge_type: Optional[int] = None) -> float:
    r"""Edge accuracy from a confusion matrix (NaN if it is empty): up to a
    permutation of the types for a model that learned them without labels,
    as named by the truth for one trained on the relations (the supervised
    encoder)."""
    if not confusion.sum():
        return float("nan")
    return accuracy_from_confusion(confusion, permutation_invariant=not model.uses_relations,
                                   no_edge_type=no_edge_type)


def edge_metrics(confusion: Tensor, probs: Tensor, present: Tensor,
                 permutation_invariant: bool = True, no_edge_type: Optional[int] = None,
                 roc_path: Optional[str] = None) -> Dict[str, float]:
    r"""The edge metrics of :func:`evaluate` from what it adds up over the
    test set: accuracy, F1 and, where ``present`` holds both edges and
    non-edges, AUROC, all with one type matching (up to a permutation of
    the types with ``permutation_invariant``, type ``no_edge_type`` fixed;
    else as named).

    Args:
        confusion (torch.Tensor): The confusion matrix ``[K, K]``
            (:func:`~torch_nri.metrics.edge_confusion`).
        probs (torch.Tensor): The edge type probabilities ``[M, K]`` of the
            scored edges (and steps, :func:`~torch_nri.metrics.align_steps`).
        present (torch.Tensor): Whether each of them is a true edge ``[M]``.
        permutation_invariant (bool, optional): Match the types, as for a
            model that learned them without labels. (default: :obj:`True`)
        no_edge_type (int, optional): A type hard-coded as "no edge".
            (default: :obj:`None`)
        roc_path (str, optional): Where AUROC is scored, also draw its ROC
            curve (:func:`~torch_nri.training.plots.plot_roc`) into this PNG
            file. (default: :obj:`None`)

    Returns:
        dict: ``accuracy`` (NaN for an empty ``confusion``), ``f1`` and
        ``auroc``.
    """
    result = {"accuracy": (accuracy_from_confusion(confusion, permutation_invariant,
                                                   no_edge_type)
                           if confusion.sum() else float("nan")),
              "f1": f1_from_confusion(confusion, permutation_invariant, no_edge_type)}
    if present.any() and not present.all():
        # The type standing for "no edge" is the one the accuracy matched to it.
        permutation = (best_type_permutation(confusion, no_edge_type)
                       if permutation_invariant else None)
        scores = edge_presence_scores(probs, permutation)
        result["auroc"] = edge_auroc(scores, present)
        if roc_path is not None:
            plot_roc(*roc_curve(scores, present), result["auroc"], roc_path)
    return result


@torch.no_grad()
def evaluate(model: ConfigurableModel, loader: DataLoader, observed_steps: int,
             horizon: int = 20, dynamic_graph: bool = False,
             no_edge_type: Optional[int] = None, ctx: Optional[Context] = None,
             roc_path: Optional[str] = None) -> Dict[str, Any]:
    r"""The test protocol of the NRI paper (:mod:`torch_nri.protocol`). The
    encoder sees the first ``observed_steps`` steps (49 in the paper) and
    gives hard edge samples; the decoder then forecasts the following
    ``horizon`` steps (20) from the steps up to ``observed_steps``
    (:meth:`~torch_nri.models.ConfigurableModel.forecast`: from the last
    true state, or burnt in on all of them, as the decoder declares), steps
    the encoder never saw. Edge accuracy uses the encoder's most probable
    type, permutation-invariant (type ``no_edge_type`` fixed).
    Where the relations change over time (``edge_type`` ``[E, T]``), edges
    are scored at every step of the window (:func:`window_relations`): a
    graph per step (:class:`~torch_nri.models.DNRI`) step by step, a static
    graph at each step.

    With ``dynamic_graph``, the graph is re-inferred at every predicted step
    from a window of the decoder's own last ``observed_steps`` inputs.

    The baselines of :mod:`torch_nri.models` follow the same protocol: a
    :class:`~torch_nri.models.FixedGraphModel` decodes on its given graph
    (no accuracy), a :class:`~torch_nri.models.SupervisedEncoder` is scored
    on its edges only (no MSE), and with its types named by the truth
    rather than up to a permutation.

    Under ``torchrun``, give each process its shard of the data and the
    distributed :class:`~torch_nri.training.distributed.Context` (``ctx``):
    the sums behind every metric are reduced over the processes, so all of
    them return the metrics of the whole split.

    With ``roc_path``, the ROC curve whose area is the AUROC is drawn into
    that PNG file (by the main process; :func:`edge_metrics`).

    Returns:
        dict: ``accuracy``, ``f1`` (of "edge vs no edge", true type 0
        meaning no edge, with the accuracy's type matching), where the
        relations change over time ``accuracy_per_step`` and ``f1_per_step``
        (lists over the window's steps, the types matched over all steps),
        ``auroc`` (where the model infers edges and the data has true
        relations with both edges and non-edges; type 0 as "no edge"),
        ``asymmetry`` (where it infers edges), ``mse`` (where it
        has a decoder; a list, one value per predicted step), ``mse_static``
        (the same for the static baseline that repeats the last observed
        state, the paper's "Static" row) and ``num_examples``.
    """
    ctx = ctx or Context()
    model.eval()
    num_types = model.num_edge_types
    confusion = torch.zeros(num_types, num_types, dtype=torch.long)
    # Of each step of the window, where the relations change over time.
    confusion_steps = torch.zeros(observed_steps, num_types, num_types, dtype=torch.long)
    probs: List[Tensor] = []  # scored for AUROC once the type matching is known
    present: List[Tensor] = []
    squared_error = torch.zeros(horizon, dtype=torch.float64)
    static_error = torch.zeros(horizon, dtype=torch.float64)
    # nodes, examples, asymmetric edges, edges with a reverse (summed, so a
    # batch without reciprocal pairs does not make the split's rate NaN)
    counts = torch.zeros(4, dtype=torch.float64)
    for batch in loader:
        batch = batch.to(ctx.device, non_blocking=True)
        x, edge_index = batch.x, batch.edge_index
        window, known, targets = protocol_steps(x, observed_steps, horizon)
        relations = relations_of(model, batch)
        logits, edges = model.infer_edges(window, edge_index, batch=batch.batch, hard=True,
                                          sizes=getattr(batch, "sizes", None), **relations)
        if model.decoder is not None:
            predictions = model.forecast(known, edge_index, edges, horizon, batch=batch.batch,
                                         dynamic_graph=dynamic_graph, window=observed_steps,
                                         **relations)
            squared_error += (predictions - targets).pow(2).mean(-1).sum(0).double().cpu()
        static_error += static_squared_error(x, observed_steps, horizon).sum(0).double().cpu()
        asymmetry = ((0, 0) if logits is None else
                     asymmetry_counts(logits, edge_index, x.size(0)))
        counts += torch.tensor([x.size(0), batch.num_graphs, *asymmetry], dtype=torch.float64)
        if "edge_type" in batch and logits is not None:
            edge_type = window_relations(batch.edge_type, observed_steps)
            confusion += edge_confusion(logits, edge_type, num_types).cpu()
            if edge_type.dim() == 2:
                per_step = step_confusion(logits, edge_type, num_types).cpu()
                confusion_steps[:per_step.size(0)] += per_step
            step_probs, step_types = align_steps(logits.softmax(-1), edge_type, pred_dims=1)
            probs.append(step_probs.cpu())
            present.append((step_types != 0).cpu())
    totals = distributed.all_reduce_sum(
        torch.cat([squared_error, static_error, counts]).to(ctx.device), ctx).cpu()
    squared_error, static_error, counts = totals.split([horizon, horizon, 4])
    confusion = distributed.all_reduce_sum(confusion.to(ctx.device), ctx).cpu()
    confusion_steps = distributed.all_reduce_sum(confusion_steps.to(ctx.device), ctx).cpu()
    num_nodes, num_examples, asymmetric, paired = counts.tolist()
    result: Dict[str, Any] = {"num_examples": int(num_examples),
                              "mse_static": (static_error / num_nodes).tolist()}
    if model.decoder is not None:
        result["mse"] = (squared_error / num_nodes).tolist()
    if getattr(model, "encoder", None) is not None:
        result["asymmetry"] = asymmetric / paired if paired else float("nan")
    probs = distributed.all_gather_list(probs, ctx)
    present = distributed.all_gather_list(present, ctx)
    if probs:
        invariant = not model.uses_relations
        result.update(edge_metrics(confusion, torch.cat(probs), torch.cat(present), invariant,
                                   no_edge_type, roc_path if ctx.is_main else None))
        scored = confusion_steps.flatten(1).sum(1) > 0
        if scored.any():  # per step, with the types matched over all steps
            perm = best_type_permutation(confusion, no_edge_type) if invariant else None
            result["accuracy_per_step"] = [
                accuracy_from_confusion(c, invariant, permutation=perm)
                for c in confusion_steps[scored]]
            result["f1_per_step"] = [f1_from_confusion(c, invariant, permutation=perm)
                                     for c in confusion_steps[scored]]
    return result


def observed_steps_of(config: TrainConfig) -> int:
    r"""The encoder's window of a run's test protocol: as recorded in its
    config, or, for a run of torch_nri 0.1.0, which recorded none, the
    papers' 49 (0.1.0 trained on the systems' default lengths only, 49 steps
    for each)."""
    return OBSERVED_STEPS if config.observed_steps is None else config.observed_steps


def run_dataset(run_dir: str, path: str,
                config: Optional[TrainConfig] = None) -> TrajectoryDataset:
    r"""The trajectories of the ``.npz`` file ``path`` as the run in
    ``run_dir`` reads data: normalised with its training statistics (its
    ``stats.json``), on its candidate graph
    (:func:`~torch_nri.training.builders.trajectory_options` of its
    ``config``, by default its ``config.json``)."""
    if config is None:
        config = TrainConfig.load(run_dir)
    return TrajectoryDataset(path, stats=RunDirectory(run_dir).read_stats(),
                             **trajectory_options(config))


def evaluate_run(run_dir: str, config: Optional[TrainConfig] = None,
                 test_set: Optional[Dataset] = None, batch_size: Optional[int] = None,
                 ctx: Optional[Context] = None, device: str = "auto",
                 shared: bool = False) -> Dict[str, Any]:
    r"""Evaluates the best checkpoint of a run on ``test_set`` (default: the
    configured test split) with the test protocol and the run's own window
    and horizon, on ``device`` (:func:`~torch_nri.device.resolve_device`;
    the checkpoint loads on any device), and saves the trajectory and graph
    plots of its first system (:func:`plot_example`, with the data's
    ``position_features``) and, where AUROC is scored, its ROC curve
    (``roc.png``). Under ``torchrun`` (``ctx``), each process
    evaluates its shard and the metrics are reduced; rank 0 alone draws the
    plots. A ``best.pt`` of another model than the run's configuration
    describes (another model kind, encoder or decoder: a checkpoint copied
    from another run) is a :class:`ValueError` (:func:`check_checkpoint_model`),
    not scored.

    With ``shared``, the systems' mean graph
    (:func:`~torch_nri.training.infer_graph` with ``shared=True``: every
    system must have the same candidate graph) is scored too
    (:func:`~torch_nri.training.inference.score_shared_graph`; every
    process scores the whole split).

    Returns:
        dict: The results of :func:`evaluate`, with ``run_dir`` and, where
        the data knows it, ``candidate_recall``: the fraction of the true
        relations that are candidate edges (the dataset's
        ``candidate_recall``), the most of them that accuracy, F1 and AUROC,
        which score the candidate edges only, can see. With ``shared`` and
        true relations, ``shared_accuracy``, ``shared_f1``,
        ``shared_auroc`` (where both edges and non-edges are true) and
        ``shared_labels_differ``.
    """
    ctx = ctx or Context(device=resolve_device(device))
    if config is None:
        config = TrainConfig.load(run_dir)
    model = load_run_model(run_dir, config, ctx.device)
    if test_set is None:
        test_set = build_datasets(config)[2]
    observed = observed_steps_of(config)
    loader = make_loader(distributed.shard(test_set, ctx), batch_size or config.batch_size,
                         ctx.device)
    torch.manual_seed(config.seed + ctx.rank)
    no_edge_type = 0 if config.skip_first else None
    with value_checks(False):  # a dataset's systems, checked where they were read
        results = evaluate(model, loader, observed_steps=observed, horizon=config.horizon,
                           dynamic_graph=config.dynamic_graph, no_edge_type=no_edge_type,
                           ctx=ctx, roc_path=RunDirectory(run_dir).plot_path("roc"))
        if shared:
            # Imported here: the inference module builds on this one.
            from torch_nri.training.inference import infer_graph, score_shared_graph

            graph = infer_graph(model, test_set, shared=True, observed_steps=observed,
                                no_edge_type=no_edge_type,
                                batch_size=batch_size or config.batch_size, device=ctx.device)
            results.update(score_shared_graph(graph, test_set,
                                              permutation_invariant=not model.uses_relations))
    recall = getattr(test_set, "candidate_recall", None)
    if recall is not None:
        results["candidate_recall"] = recall
    results["run_dir"] = run_dir
    if ctx.is_main:  # on the run's device: the model stays where it is
        plot_example(model, test_set[0].to(ctx.device), observed, config.horizon, no_edge_type,
                     run_dir, getattr(test_set, "position_features", config.position_features))
    return results


def load_run_model(run_dir: str, config: Optional[TrainConfig] = None,
                   device: Any = "cpu") -> ConfigurableModel:
    r"""The best checkpoint of the run in ``run_dir`` (its ``best.pt``) on
    ``device``, checked to hold the model that the run's configuration
    (``config``, by default its ``config.json``) describes
    (:func:`check_checkpoint_model`). A missing ``best.pt`` is a
    :class:`FileNotFoundError` that says what the file is."""
    if config is None:
        config = TrainConfig.load(run_dir)
    run = RunDirectory(run_dir)
    checkpoint = run.read_best(map_location=device)
    check_checkpoint_model(checkpoint, config, run.best_path)
    return model_from_checkpoint(checkpoint, run.best_path)


def check_checkpoint_model(checkpoint: Dict[str, Any], config: TrainConfig, path: str) -> None:
    r"""Raises a :class:`ValueError` unless the checkpoint at ``path``
    (:func:`~torch_nri.models.read_checkpoint`) holds the model that the
    run's configuration describes: its encoder and decoder classes
    (:func:`~torch_nri.training.registry.model_layers`) and, where the
    checkpoint records the configuration it was trained with (every
    checkpoint of :func:`~torch_nri.training.train`), its ``model``,
    ``encoder`` and ``decoder``. The error says what each holds."""
    model_config = checkpoint["model_config"]
    held = {}
    for part in ("encoder", "decoder"):
        spec = model_config.get(part)
        held[part] = spec.get("name") if isinstance(spec, dict) else None
    expected = model_layers(config)
    differ = [part for part, layer in expected.items() if held[part] != layer]
    trained = checkpoint.get("train_config")
    trained = trained if isinstance(trained, dict) else {}
    spec = MODELS[config.model]
    used = {"model": True, "encoder": spec.uses_encoder, "decoder": spec.uses_decoder}
    differ += [key for key, use in used.items() if use and key not in differ
               and trained.get(key) is not None and trained[key] != getattr(config, key)]
    if not differ:
        return
    differ = [key for key in used if key in differ]  # model, encoder, decoder
    differ_text = (" and ".join(filter(None, [", ".join(differ[:-1]), differ[-1]]))
                   + (" differs" if len(differ) == 1 else " differ"))
    layers = " and ".join(f"{part} {layer}" for part, layer in held.items() if layer)
    holds = model_config.get("model", "NRI") + (f" with {layers}" if layers else "")
    if trained:
        holds += " (trained with " + ", ".join(
            f"{key}={trained.get(key)!r}" for key in used
            if key == "model" or held[key] is not None) + ")"
    says = ", ".join(f"{key}={getattr(config, key)!r}"
                     + (f" ({expected[key]})" if expected.get(key) else "")
                     for key, use in used.items() if use)
    raise ValueError(f"{path} holds another model than the run's config.json describes "
                     f"(its {differ_text}): it holds {holds}; "
                     f"config.json says {says}. Was best.pt copied from another run? Evaluate "
                     f"it with the config.json of the run that trained it")


@torch.no_grad()
def plot_example(model: ConfigurableModel, data, observed_steps: int, horizon: int,
                 no_edge_type: Optional[int], run_dir: str,
                 position_features: Optional[Sequence[int]] = None) -> None:
    r"""Draws ``trajectories.png`` (the forecast of one system beside the
    truth) and ``graph.png`` (its most probable graph beside the truth, the
    types matched; for a graph that changes over time, each edge's type at
    each step of the window) in ``run_dir``.

    A system of more than :data:`~torch_nri.training.plots.MAX_PLOT_OBJECTS`
    objects is drawn as a window of it, stated in the figures' titles: the
    objects nearest object 0 at the first step by ``position_features``
    (:func:`~torch_nri.training.plots.nearest_objects`) and the edges among
    them. Without ``position_features`` such a system is not drawn, and a
    notice on stderr says so."""
    num_nodes, run = data.x.size(0), RunDirectory(run_dir)
    shown, title = None, None  # the objects drawn: all of them, or a window
    if num_nodes > MAX_PLOT_OBJECTS:
        if position_features is None:
            print(f"torch-nri: trajectories.png and graph.png are not drawn: the system has "
                  f"{num_nodes} objects, more than the {MAX_PLOT_OBJECTS} a plot shows, and no "
                  f"position features to choose a window of them by", file=sys.stderr)
            return
        shown = nearest_objects(data.x[:, 0, list(position_features)])
        title = (f"the {shown.numel()} of {num_nodes} objects nearest object 0 at the first "
                 f"step (features {list(position_features)})")
    model.eval()
    window, known, targets = protocol_steps(data.x, observed_steps, horizon)
    relations = relations_of(model, data)
    logits, edges = model.infer_edges(window, data.edge_index, hard=True, **relations)
    if logits is not None:  # the most probable graph rather than a sample
        edges = F.one_hot(logits.argmax(-1), model.num_edge_types).float()
    if model.decoder is not None:
        predictions = model.forecast(known, data.edge_index, edges, horizon, **relations)
        paths = [known, targets, predictions]
        if shown is not None:
            paths = [path[shown] for path in paths]
        plot_trajectories(*paths, run.plot_path("trajectories"), title=title)
    if logits is None:
        return  # a given graph: nothing inferred to draw
    inferred, truth = logits.argmax(-1), getattr(data, "edge_type", None)
    if truth is not None:
        truth = window_relations(truth, observed_steps)
    if truth is not None and not model.uses_relations:
        perm = best_type_permutation(edge_confusion(logits, truth, model.num_edge_types),
                                     no_edge_type)
        inferred = perm[inferred]
    edge_index, local_index = data.edge_index, data.edge_index
    if shown is not None:  # the edges among the window's objects
        local_index, kept = window_edges(edge_index, shown, num_nodes)
        edge_index, inferred = edge_index[:, kept], inferred[kept]
        truth = None if truth is None else truth[kept]
    if inferred.dim() == 2 or (truth is not None and truth.dim() == 2):
        # A graph that changes over time (inferred, true or both): per step.
        plot_graph_over_time(edge_index, inferred, truth, run.plot_path("graph"),
                             title=title)
        return
    plot_graph(local_index, inferred, truth, num_nodes if shown is None else shown.numel(),
               run.plot_path("graph"), title=title)
