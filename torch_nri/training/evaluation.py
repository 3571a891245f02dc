from typing import Any, Dict, List, Optional

import torch
from torch import Tensor
from torch_geometric.loader import DataLoader

from torch_nri.metrics import (accuracy_from_confusion, asymmetry_rate, edge_auroc,
                               edge_confusion)
from torch_nri.models import NRI
from torch_nri.nn import RNNDecoder
from torch_nri.training import distributed
from torch_nri.training.distributed import Context


def training_decoder_kwargs(model: NRI, num_steps: int, prediction_steps: int,
                            burn_in_steps: Optional[int] = None) -> Dict[str, Any]:
    r"""How the decoder is fed in training: ground truth every ``M`` steps for
    the MLP decoder; burn-in for the RNN decoder, by default the first
    ``T - M`` steps (the original code's choice)."""
    if isinstance(model.decoder, RNNDecoder):
        return {"burn_in_steps": burn_in_steps or max(num_steps - prediction_steps, 1)}
    return {"prediction_steps": prediction_steps}


@torch.no_grad()
def evaluate(model: NRI, loader: DataLoader, encoder_steps: int, horizon: int = 20,
             dynamic_graph: bool = False, no_edge_type: Optional[int] = None,
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

    Under ``torchrun``, give each process its shard of the data and the
    distributed :class:`~torch_nri.training.distributed.Context` (``ctx``):
    the sums behind every metric are reduced over the processes, so all of
    them return the metrics of the whole split.

    Returns:
        dict: ``accuracy``, ``auroc`` (where the data has both edges and
        non-edges; type 0 as "no edge"), ``mse`` (a list, one value per
        predicted step), ``mse_static`` (the same for the static baseline
        that repeats the last observed state, the paper's "Static" row) and
        ``num_examples``.
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
        logits, edges = model.sample_edges(
            model.encoder(x[:, :encoder_steps], edge_index, batch=batch.batch), edge_index,
            x.size(0), hard=True)
        end = encoder_steps + horizon + 1
        if isinstance(model.decoder, RNNDecoder):
            graph = None
            if dynamic_graph:
                def graph(window, index, nodes_of=batch.batch):
                    return model.sample_edges(model.encoder(window, index, batch=nodes_of),
                                              index, window.size(0), hard=True)[1]
            out = model.decoder(x[:, :end], edge_index, edges, burn_in_steps=encoder_steps + 1,
                                dynamic_graph=graph, dynamic_graph_window=encoder_steps)
            predictions = out[:, encoder_steps:]
        else:
            predictions = model.decoder(x[:, encoder_steps:end], edge_index, edges,
                                        prediction_steps=horizon)
        target = x[:, encoder_steps + 1:end]
        error = (predictions - target).pow(2).mean(-1).sum(0)
        # The static baseline repeats the last observed state: x^{t+h} = x^t.
        static = (x[:, encoder_steps:encoder_steps + 1] - target).pow(2).mean(-1).sum(0)
        squared_error += error.double().cpu()
        static_error += static.double().cpu()
        counts += torch.tensor([x.size(0), batch.num_graphs, batch.num_graphs *
                                asymmetry_rate(logits, edge_index, x.size(0))],
                               dtype=torch.float64)
        if "edge_type" in batch:
            confusion += edge_confusion(logits, batch.edge_type, num_types).cpu()
            scores.append((1 - logits.softmax(-1)[:, 0]).cpu())
            present.append((batch.edge_type != 0).cpu())
    totals = distributed.all_reduce_sum(
        torch.cat([squared_error, static_error, counts]).to(ctx.device), ctx).cpu()
    squared_error, static_error, counts = totals.split([horizon, horizon, 3])
    confusion = distributed.all_reduce_sum(confusion.to(ctx.device), ctx).cpu()
    num_nodes, num_examples, asymmetric = counts.tolist()
    result: Dict[str, Any] = {"num_examples": int(num_examples),
                              "mse": (squared_error / num_nodes).tolist(),
                              "mse_static": (static_error / num_nodes).tolist(),
                              "asymmetry": asymmetric / num_examples}
    scores = distributed.all_gather_list(scores, ctx)
    present = distributed.all_gather_list(present, ctx)
    if scores:
        result["accuracy"] = accuracy_from_confusion(confusion, no_edge_type=no_edge_type)
        present_all = torch.cat(present)
        if present_all.any() and not present_all.all():
            result["auroc"] = edge_auroc(torch.cat(scores), present_all)
    return result

