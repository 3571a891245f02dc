from typing import Any, Dict, List, Optional

import torch
from torch import Tensor
from torch_geometric.loader import DataLoader

from torch_nri.metrics import (accuracy_from_confusion, asymmetry_rate, edge_auroc,
                               edge_confusion)
from torch_nri.models import ConfigurableModel
from torch_nri.nn import RNNDecoder
from torch_nri.training import distributed
from torch_nri.training.distributed import Context


def relations_of(model: ConfigurableModel, batch) -> Dict[str, Any]:
    r"""The true relations as the keyword argument ``edge_type`` for a model
    that takes them (:attr:`~torch_nri.models.ConfigurableModel.uses_relations`),
    nothing for one that infers them."""
    return {"edge_type": batch.edge_type} if model.uses_relations else {}


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


def training_decoder_kwargs(model: ConfigurableModel, num_steps: int, prediction_steps: int,
                            burn_in_steps: Optional[int] = None) -> Dict[str, Any]:
    r"""How the decoder is fed in training: ground truth every ``M`` steps for
    the MLP decoder; burn-in for the RNN decoder, by default the first
    ``T - M`` steps (the original code's choice)."""
    if isinstance(model.decoder, RNNDecoder):
        return {"burn_in_steps": burn_in_steps or max(num_steps - prediction_steps, 1)}
    return {"prediction_steps": prediction_steps}


@torch.no_grad()
def evaluate(model: ConfigurableModel, loader: DataLoader, encoder_steps: int,
             horizon: int = 20, dynamic_graph: bool = False,
             no_edge_type: Optional[int] = None,
             ctx: Optional[Context] = None) -> Dict[str, Any]:
    r"""The test protocol of the NRI paper. The encoder sees the first
    ``encoder_steps`` steps (49 in the paper) and gives hard edge samples; the
    decoder then starts from the true state of step ``encoder_steps`` and
    predicts the following ``horizon`` steps (20) on its own, steps the
    encoder never saw. Edge accuracy uses the encoder's most probable type,
    permutation-invariant (type ``no_edge_type`` fixed).

    With an :class:`~torch_nri.nn.RNNDecoder`, the decoder is burnt in on
    steps ``0..encoder_steps`` and, with ``dynamic_graph``, re-infers the graph
    at every step from a window of its own last ``encoder_steps`` inputs.

    The baselines of :mod:`torch_nri.models` follow the same protocol: a
    :class:`~torch_nri.models.FixedGraphModel` decodes on its given graph
    (no accuracy), a :class:`~torch_nri.models.SupervisedEncoder` is scored
    on its edges only (no MSE), and with its types named by the truth
    rather than up to a permutation.

    Under ``torchrun``, give each process its shard of the data and the
    distributed :class:`~torch_nri.training.distributed.Context` (``ctx``):
    the sums behind every metric are reduced over the processes, so all of
    them return the metrics of the whole split.

    Returns:
        dict: ``accuracy``, ``auroc`` (where the model infers edges and the
        data has both edges and non-edges; type 0 as "no edge"),
        ``asymmetry`` (where it infers edges), ``mse`` (where it has a
        decoder; a list, one value per predicted step), ``mse_static`` (the
        same for the static baseline that repeats the last observed state,
        the paper's "Static" row) and ``num_examples``.
    """
    ctx = ctx or Context()
    model.eval()
    num_types = model.num_edge_types
    confusion = torch.zeros(num_types, num_types, dtype=torch.long)
    scores: List[Tensor] = []
    present: List[Tensor] = []
    squared_error = torch.zeros(horizon, dtype=torch.float64)
    static_error = torch.zeros(horizon, dtype=torch.float64)
    counts = torch.zeros(3, dtype=torch.float64)  # nodes, examples, asymmetry * examples
    for batch in loader:
        batch = batch.to(ctx.device)
        x, edge_index = batch.x, batch.edge_index
        if x.size(1) < encoder_steps + horizon + 1:
            raise ValueError(f"the test protocol needs {encoder_steps + horizon + 1} steps "
                             f"(encoder {encoder_steps} + horizon {horizon} + 1), the data "
                             f"has {x.size(1)}")
        relations = relations_of(model, batch)
        logits, edges = model.infer_edges(x[:, :encoder_steps], edge_index, batch=batch.batch,
                                          hard=True, **relations)
        end = encoder_steps + horizon + 1
        target = x[:, encoder_steps + 1:end]
        if model.decoder is not None:
            predictions = predict_horizon(model, x[:, :end], edge_index, edges, encoder_steps,
                                          horizon, batch.batch if dynamic_graph else None,
                                          relations)
            squared_error += (predictions - target).pow(2).mean(-1).sum(0).double().cpu()
        # The static baseline repeats the last observed state: x^{t+h} = x^t.
        static = (x[:, encoder_steps:encoder_steps + 1] - target).pow(2).mean(-1).sum(0)
        static_error += static.double().cpu()
        counts += torch.tensor([x.size(0), batch.num_graphs, 0 if logits is None else
                                batch.num_graphs * asymmetry_rate(logits, edge_index, x.size(0))],
                               dtype=torch.float64)
        if "edge_type" in batch and logits is not None:
            confusion += edge_confusion(logits, batch.edge_type, num_types).cpu()
            scores.append((1 - logits.softmax(-1)[:, 0]).cpu())
            present.append((batch.edge_type != 0).cpu())
    totals = distributed.all_reduce_sum(
        torch.cat([squared_error, static_error, counts]).to(ctx.device), ctx).cpu()
    squared_error, static_error, counts = totals.split([horizon, horizon, 3])
    confusion = distributed.all_reduce_sum(confusion.to(ctx.device), ctx).cpu()
    num_nodes, num_examples, asymmetric = counts.tolist()
    result: Dict[str, Any] = {"num_examples": int(num_examples),
                              "mse_static": (static_error / num_nodes).tolist()}
    if model.decoder is not None:
        result["mse"] = (squared_error / num_nodes).tolist()
    if getattr(model, "encoder", None) is not None:
        result["asymmetry"] = asymmetric / num_examples
    scores = distributed.all_gather_list(scores, ctx)
    present = distributed.all_gather_list(present, ctx)
    if scores:
        result["accuracy"] = model_accuracy(model, confusion, no_edge_type)
        present_all = torch.cat(present)
        if present_all.any() and not present_all.all():
            result["auroc"] = edge_auroc(torch.cat(scores), present_all)
    return result


def predict_horizon(model: ConfigurableModel, x: Tensor, edge_index: Tensor, edges: Tensor,
                    encoder_steps: int, horizon: int, dynamic_batch: Optional[Tensor],
                    relations: Dict[str, Tensor]) -> Tensor:
    r"""The decoder's predictions ``[N, horizon, F]`` of the steps after
    ``encoder_steps`` of ``x``, from the true state at ``encoder_steps``
    (an RNN decoder is burnt in on steps ``0..encoder_steps`` and, given the
    ``dynamic_batch`` vector, re-infers the graph as it goes)."""
    if not isinstance(model.decoder, RNNDecoder):
        return model.decoder(x[:, encoder_steps:], edge_index, edges, prediction_steps=horizon)

    def reinfer(window: Tensor, index: Tensor) -> Tensor:
        return model.infer_edges(window, index, batch=dynamic_batch, hard=True, **relations)[1]

    graph = reinfer if dynamic_batch is not None else None
    out = model.decoder(x, edge_index, edges, burn_in_steps=encoder_steps + 1,
                        dynamic_graph=graph, dynamic_graph_window=encoder_steps)
    return out[:, encoder_steps:]
