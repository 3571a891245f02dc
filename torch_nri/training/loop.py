import csv
import io
import json
import os
import time
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from torch_nri.io import atomic_torch_save, atomic_write_text
from torch_nri.metrics import best_type_permutation, edge_confusion
from torch_nri.models import ConfigurableModel, load_model
from torch_nri.training.builders import build_datasets, build_model
from torch_nri.training import distributed
from torch_nri.training.config import TrainConfig
from torch_nri.training.distributed import Context
from torch_nri.training.evaluation import (evaluate, model_accuracy, predict_horizon,
                                           relations_of, training_decoder_kwargs)
from torch_nri.training.plots import plot_curves, plot_graph, plot_trajectories

LOG_FIELDS = ["epoch", "lr", "seconds", "train_nll", "train_kl", "train_mse", "train_accuracy",
              "valid_nll", "valid_kl", "valid_mse", "valid_accuracy"]


def _epoch_seed(seed: int, epoch: int) -> int:
    # Every epoch draws its shuffling, Gumbel noise and dropout from its own
    # seed, so a resumed run repeats an uninterrupted one exactly.
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _autocast(precision: str, device: torch.device) -> torch.autocast:
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def _run_epoch(model: ConfigurableModel, forward: torch.nn.Module, loader: DataLoader,
               decoder_kwargs: Dict[str, Any], optimizer: Optional[torch.optim.Optimizer],
               scaler: torch.amp.GradScaler, precision: str, no_edge_type: Optional[int],
               ctx: Context, bar_desc: str, progress: bool) -> Dict[str, float]:
    # `forward` is the model itself, or its DistributedDataParallel wrapper.
    training = optimizer is not None
    model.train(training)
    # Sums over nodes (NLL, KL) and over predicted values (MSE), reduced over
    # the processes, so the metrics do not depend on how the data is split.
    sums = torch.zeros(5, dtype=torch.float64)  # nll, kl, nodes, squared error, values
    confusion = torch.zeros(model.num_edge_types, model.num_edge_types, dtype=torch.long)
    with torch.set_grad_enabled(training):
        for batch in tqdm(loader, desc=bar_desc, leave=False, disable=not progress):
            batch = batch.to(ctx.device)
            with _autocast(precision, ctx.device):
                out = forward(batch.x, batch.edge_index, batch=batch.batch,
                              **relations_of(model, batch), **decoder_kwargs)
            terms = model.objective(out)
            if training:
                optimizer.zero_grad()
                scaler.scale(terms.loss).backward()
                scaler.step(optimizer)
                scaler.update()
            sums[:3] += torch.tensor([terms.nll.item() * batch.num_nodes,
                                      terms.kl.item() * batch.num_nodes, batch.num_nodes],
                                     dtype=torch.float64)
            if out.predictions is not None:  # the supervised encoder predicts no paths
                error = (out.predictions - out.targets).detach().pow(2)
                sums[3:] += torch.tensor([error.sum().item(), error.numel()],
                                         dtype=torch.float64)
            if out.edge_logits is not None:  # a given graph is not scored
                confusion += edge_confusion(out.edge_logits.detach(), batch.edge_type,
                                            model.num_edge_types).cpu()
    sums = distributed.all_reduce_sum(sums.to(ctx.device), ctx).cpu()
    confusion = distributed.all_reduce_sum(confusion.to(ctx.device), ctx).cpu()
    nll, kl, nodes, squared_error, values = sums.tolist()
    return {"nll": nll / nodes, "kl": kl / nodes,
            "mse": squared_error / values if values else float("nan"),
            "accuracy": model_accuracy(model, confusion, no_edge_type)}


def _selection_score(model: ConfigurableModel, metrics: Dict[str, float]) -> float:
    # best.pt is the epoch with the lowest validation MSE, or, for a model
    # without a decoder, the highest validation accuracy (NRI's D.1.1).
    return metrics["mse"] if model.decoder is not None else -metrics["accuracy"]


def _write_log(history: List[Dict[str, float]], path: str) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(buffer.getvalue(), path)


def train(config: TrainConfig, resume: bool = False) -> Dict[str, Any]:
    r"""Trains an NRI model as the paper does and evaluates it on the test
    split with the paper's protocol.

    ``config.model`` picks NRI or one of the baselines of
    :mod:`torch_nri.models`, trained the same way (each minimises its
    ``objective``).

    Writes to ``config.out``: ``config.json``, ``stats.json`` (the data's
    normalisation), ``last.pt`` (everything needed to resume, after every
    epoch), ``best.pt`` (the epoch with the lowest validation MSE; the
    highest validation accuracy for the supervised encoder),
    ``log.csv``, ``results.json`` and the plots ``curves.png``,
    ``trajectories.png`` and ``graph.png``. Checkpoints are written
    atomically and hold the model config, so
    :func:`~torch_nri.models.load_model` rebuilds the model. With
    ``config.max_seconds``, training ends after the first epoch that brings
    the training time past it.

    With ``resume=True`` an interrupted run continues from ``last.pt``; every
    epoch draws its randomness from a seed of its own, so the result equals
    that of an uninterrupted run.

    Returns:
        dict: The test results (see :func:`~torch_nri.training.evaluate`)
        with ``run_dir``, ``train_seconds`` and ``epochs`` (those trained in
        all, resumed runs included).
    """
    out = config.out
    last_path = os.path.join(out, "last.pt")
    if config.threads:
        torch.set_num_threads(config.threads)
    ctx = distributed.setup()
    if ctx.is_main:
        os.makedirs(out, exist_ok=True)
    if resume and os.path.exists(last_path):
        checkpoint = torch.load(last_path, weights_only=False, map_location="cpu")
        saved = TrainConfig.from_dict(checkpoint["train_config"])
        # Only the number of epochs and the progress bars may change on resume.
        config = TrainConfig.from_dict({**saved.to_dict(), "epochs": config.epochs,
                                        "progress": config.progress, "out": config.out})
    else:
        checkpoint = None
    progress = config.progress and ctx.is_main
    if ctx.is_main:
        atomic_write_text(json.dumps(config.to_dict(), indent=2),
                          os.path.join(out, "config.json"))

    torch.manual_seed(config.seed)
    # Rank 0 simulates and caches the data; the others wait, then read the cache.
    if not ctx.is_main:
        distributed.barrier(ctx)
    train_set, valid_set, test_set = build_datasets(config)
    if ctx.is_main:
        distributed.barrier(ctx)
        atomic_write_text(json.dumps(train_set.stats.to_dict(), indent=2),
                          os.path.join(out, "stats.json"))
    num_steps = train_set[0].x.size(1)
    model = build_model(config, num_steps, train_set.stats).to(ctx.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # Loss scaling keeps float16 gradients from underflowing; a no-op otherwise.
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=config.precision == "fp16")
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_decay,
                                                gamma=config.gamma)
    history: List[Dict[str, float]] = []
    best_score, start_epoch = float("inf"), 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        scaler.load_state_dict(checkpoint.get("scaler", {}))
        history, best_score, start_epoch = (checkpoint["history"], checkpoint["best_score"],
                                            checkpoint["epoch"])
    # Gradients are averaged over the processes; every process holds the model.
    # On GPUs the batch norms see the global batch; on CPUs (gloo) they stay per
    # process, as PyTorch's SyncBatchNorm needs GPU tensors.
    if ctx.distributed and ctx.device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    forward = DistributedDataParallel(model) if ctx.distributed else model
    kwargs = training_decoder_kwargs(model, num_steps, config.prediction_steps,
                                     config.burn_in_steps)
    no_edge_type = 0 if config.skip_first else None
    valid_loader = DataLoader(distributed.shard(valid_set, ctx), batch_size=config.batch_size)
    sampler = (DistributedSampler(train_set, ctx.world_size, ctx.rank, shuffle=True,
                                  seed=config.seed) if ctx.distributed else None)

    started = time.perf_counter()
    for epoch in tqdm(range(start_epoch, config.epochs), desc="epochs", initial=start_epoch,
                      total=config.epochs, disable=not progress):
        if config.max_seconds and sum(row["seconds"] for row in history) >= config.max_seconds:
            break  # the time budget is spent (also across resumed runs)
        epoch_start = time.perf_counter()
        # Each process draws its own Gumbel noise and dropout, from its epoch's seed.
        torch.manual_seed(_epoch_seed(config.seed, epoch) + ctx.rank)
        if sampler is not None:
            sampler.set_epoch(epoch)  # a new split of a new shuffle every epoch
            train_loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler)
        else:
            generator = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch))
            train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True,
                                      generator=generator)
        lr = optimizer.param_groups[0]["lr"]
        train_metrics = _run_epoch(model, forward, train_loader, kwargs, optimizer, scaler,
                                   config.precision, no_edge_type, ctx, "train", progress)
        scheduler.step()
        valid_metrics = _run_epoch(model, model, valid_loader, kwargs, None, scaler,
                                   config.precision, no_edge_type, ctx, "valid", progress)
        row = {"epoch": epoch + 1, "lr": lr, "seconds": time.perf_counter() - epoch_start}
        row.update({f"train_{k}": v for k, v in train_metrics.items()})
        row.update({f"valid_{k}": v for k, v in valid_metrics.items()})
        history.append(row)
        score = _selection_score(model, valid_metrics)
        improved = score < best_score
        best_score = min(best_score, score)
        if ctx.is_main:  # the only process that writes, so the only one that copies
            state = {"model_config": model.config,
                     "model": {k: v.cpu() for k, v in model.state_dict().items()},
                     "train_config": config.to_dict(), "epoch": epoch + 1}
            if improved:
                atomic_torch_save(state, os.path.join(out, "best.pt"))
            atomic_torch_save({**state, "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(),
                               "scaler": scaler.state_dict(), "history": history,
                               "best_score": best_score}, last_path)
            _write_log(history, os.path.join(out, "log.csv"))
        distributed.barrier(ctx)  # the checkpoint exists for every process
    train_seconds = time.perf_counter() - started

    results = evaluate_run(out, config=config, test_set=test_set, num_steps=num_steps,
                           ctx=ctx)
    results["train_seconds"] = train_seconds
    results["epochs"] = len(history)
    if ctx.is_main:
        atomic_write_text(json.dumps(results, indent=2), os.path.join(out, "results.json"))
        plot_curves(history, os.path.join(out, "curves.png"))
    return results


def evaluate_run(run_dir: str, config: Optional[TrainConfig] = None, test_set=None,
                 num_steps: Optional[int] = None, batch_size: Optional[int] = None,
                 ctx: Optional[Context] = None) -> Dict[str, Any]:
    r"""Evaluates the best checkpoint of a run on ``test_set`` (default: the
    configured system's test split) with the paper's test protocol, and saves
    the trajectory and graph plots of its first system. Under ``torchrun``
    (``ctx``), each process evaluates its shard and the metrics are reduced;
    rank 0 alone draws the plots."""
    ctx = ctx or Context()
    if config is None:
        config = load_config(run_dir)
    model = load_model(os.path.join(run_dir, "best.pt")).to(ctx.device)
    if test_set is None:
        test_set = build_datasets(config)[2]
    if num_steps is None:
        num_steps = _encoder_steps(model, config)
    loader = DataLoader(distributed.shard(test_set, ctx),
                        batch_size=batch_size or config.batch_size)
    torch.manual_seed(config.seed + ctx.rank)
    results = evaluate(model, loader, encoder_steps=num_steps, horizon=config.horizon,
                       dynamic_graph=config.dynamic_graph,
                       no_edge_type=0 if config.skip_first else None, ctx=ctx)
    results["run_dir"] = run_dir
    if ctx.is_main:
        _plot_example(model.cpu(), test_set[0], num_steps, config, run_dir)
    return results


def load_config(run_dir: str) -> TrainConfig:
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no run in {run_dir}: {path} is missing")
    with open(path) as f:
        return TrainConfig.from_dict(json.load(f))


def _encoder_steps(model: ConfigurableModel, config: TrainConfig) -> int:
    # The MLP encoder fixes its window; other encoders use the paper's 49 steps.
    in_channels = getattr(getattr(model, "encoder", None), "in_channels", None)
    if config.encoder == "mlp" and in_channels:
        return in_channels // config.num_features
    return 49


@torch.no_grad()
def _plot_example(model: ConfigurableModel, data, encoder_steps: int, config: TrainConfig,
                  run_dir: str) -> None:
    model.eval()
    x, edge_index = data.x, data.edge_index
    end = min(x.size(1), encoder_steps + config.horizon + 1)
    relations = relations_of(model, data)
    logits, edges = model.infer_edges(x[:, :encoder_steps], edge_index, hard=True, **relations)
    if logits is not None:  # the most probable graph rather than a sample
        edges = torch.nn.functional.one_hot(logits.argmax(-1), model.num_edge_types).float()
    if model.decoder is not None:
        predictions = predict_horizon(model, x[:, :end], edge_index, edges, encoder_steps,
                              end - encoder_steps - 1, None, relations)
        plot_trajectories(x[:, :encoder_steps + 1], x[:, encoder_steps + 1:end], predictions,
                          os.path.join(run_dir, "trajectories.png"))
    if logits is None:
        return  # a given graph: nothing inferred to draw
    inferred, truth = logits.argmax(-1), getattr(data, "edge_type", None)
    if truth is not None and not model.uses_relations:
        perm = best_type_permutation(edge_confusion(logits, truth, model.num_edge_types),
                                     0 if config.skip_first else None)
        inferred = perm[inferred]
    plot_graph(edge_index, inferred, truth, x.size(0), os.path.join(run_dir, "graph.png"))
