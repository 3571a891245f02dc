"""How much a trained NRI model's decoder uses the graph, and which graph:
its teacher-forced MSE on the run's test split (the training window, the
run's ``prediction_steps``, normalised units) when it is given, in turn,

- ``inferred``: the encoder's most likely graph (the argmax of its logits),
- ``true``: the true relations (where the data have them), in the
  encoder's labelling of the types,
- ``none``: every candidate edge of type 0,
- ``all``: every candidate edge of the last type.

A decoder that predicts as well with ``none`` as with ``inferred`` ignores
the graph; one that predicts better with ``inferred`` than with ``true``
has fitted the encoder's errors, and gives the encoder no signal to mend
them. The true types are matched to the encoder's labelling over the
whole split (type 0 stays "no edge" under ``skip_first``), as the edge
accuracy is (:func:`torch_nri.metrics.best_type_permutation`).

    python benchmarks/decoder_graph_use.py runs/kuramoto --max-systems 1000

Prints one line per graph; ``--json`` writes them to a file as well.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from torch_nri.metrics import accuracy_from_confusion, best_type_permutation, edge_confusion
from torch_nri.models import NRI
from torch_nri.training import TrainConfig
from torch_nri.training.builders import build_datasets
from torch_nri.training.evaluation import load_run_model, observed_steps_of


def graph_use(run_dir: str, max_systems: int = 1000, batch_size: int = 100) -> dict:
    """The decoder's MSE with each graph and the most likely graph's edge
    accuracy, over the first ``max_systems`` systems of the test split."""
    config = TrainConfig.load(run_dir)
    model = load_run_model(run_dir, config).eval()
    if not isinstance(model, NRI):
        raise ValueError(f"run {run_dir!r} trained a {type(model).__name__}; the decoder's "
                         f"use of one static graph is measured for NRI runs only")
    test_set = build_datasets(config)[2]
    test_set = test_set[:min(max_systems, len(test_set))]
    observed, types = observed_steps_of(config), model.num_edge_types
    no_edge_type = 0 if config.skip_first else None
    with torch.no_grad():
        # The encoder's graphs first: the matching of its types to the true
        # ones is the one of the whole split, as in the edge accuracy.
        batches = [(batch, model.infer_edges(batch.x[:, :observed], batch.edge_index,
                                             batch.batch, hard=True)[0].argmax(-1))
                   for batch in DataLoader(test_set, batch_size=batch_size)]
        scored = [(batch.edge_type, inferred) for batch, inferred in batches
                  if getattr(batch, "edge_type", None) is not None]
        confusion = sum(edge_confusion(inferred, true, types) for true, inferred in scored) \
            if scored else None
        if confusion is not None:  # perm[predicted] = true, so its inverse labels the truth
            to_encoder_labels = best_type_permutation(confusion, no_edge_type).argsort()
        sums = {}
        for batch, inferred in batches:
            x = batch.x[:, :observed]
            graphs = {"inferred": inferred}
            if confusion is not None:
                graphs["true"] = to_encoder_labels[batch.edge_type.long()]
            graphs["none"] = torch.zeros_like(inferred)
            graphs["all"] = torch.full_like(inferred, types - 1)
            for name, edge_types in graphs.items():
                weights = F.one_hot(edge_types, types).float()
                predictions = model.decoder(x, batch.edge_index, weights,
                                            prediction_steps=config.prediction_steps)
                squared = (predictions.float() - x[:, 1:]).square().mean(dim=(1, 2)).sum()
                sums[name] = sums.get(name, 0.0) + float(squared)
    num_nodes = sum(data.num_nodes for data in test_set)
    result = {"run_dir": run_dir, "systems": len(test_set),
              "mse": {name: value / num_nodes for name, value in sums.items()}}
    if confusion is not None:
        result["accuracy"] = accuracy_from_confusion(confusion, no_edge_type=no_edge_type)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--max-systems", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.run_dir):
        sys.exit(f"decoder_graph_use.py: run_dir {args.run_dir!r} is not a directory")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    try:
        result = graph_use(args.run_dir, args.max_systems, args.batch_size)
    except ValueError as error:
        sys.exit(f"decoder_graph_use.py: {error}")
    print(f"{result['run_dir']}: {result['systems']} test systems"
          + (f", edge accuracy of the most likely graph {result['accuracy']:.4f}"
             if "accuracy" in result else ""))
    for name, mse in result["mse"].items():
        print(f"  decoder MSE with {name:8s} edges: {mse:.4e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
