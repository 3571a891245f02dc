r"""The training loop of every model of :mod:`torch_nri.models`: one loop,
epochs of Adam steps on each model's own objective, atomic checkpoints,
exact resume, budgets and DDP; the test protocol after training
(:mod:`torch_nri.training.evaluation`)."""
import contextlib
import dataclasses
import os
import sys
import time
from typing import Any, ContextManager, Dict, List, Optional

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm.auto import tqdm

from torch_nri._allocator import limit_mmap_threshold
from torch_nri._validation import value_checks
from torch_nri.device import warn_if_emulated
from torch_nri.io import check_output_dir, remove_temporaries
from torch_nri.metrics import edge_confusion
from torch_nri.losses import Objective
from torch_nri.models import ConfigurableModel, NRIOutput
from torch_nri.models.base import checkpoint_entries
from torch_nri.training import distributed
from torch_nri.training.batching import fixed_size, make_loader
from torch_nri.training.builders import build_datasets, build_model, check_data
from torch_nri.training.config import TrainConfig
from torch_nri.training.distributed import Context
from torch_nri.training.evaluation import evaluate_run, model_accuracy, relations_of
from torch_nri.training.plots import plot_curves
from torch_nri.training.run_dir import RunDirectory

# The settings a resumed run may change: the budget, and where and how fast
# it runs; they do not change what is computed.
RESUMABLE = ("epochs", "max_seconds", "progress", "out", "data_root", "device", "compile",
             "tf32", "deterministic", "threads")
# What last.pt holds beyond a model checkpoint, to continue the run.
_RESUME_ENTRIES = ("train_config", "epoch", "optimizer", "scheduler", "history", "best_score")


def _epoch_seed(seed: int, epoch: int) -> int:
    # Every epoch draws its shuffling, Gumbel noise and dropout from its own
    # seed, so a resumed run repeats an uninterrupted one exactly.
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def learning_rate_schedule(optimizer: torch.optim.Optimizer,
                           config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    r"""The learning rate of each epoch :math:`e` (from 0), stepped once
    an epoch: the paper's step decay, ``config.lr`` times
    :math:`\gamma^{\lfloor e / \text{lr\_decay} \rfloor}`, and with
    ``config.warmup_epochs`` :math:`W` a linear warm-up, times
    :math:`\min(1, (e + 1) / W)`."""
    if config.warmup_epochs is None:  # the paper's; and the scheduler of older runs
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_decay,
                                               gamma=config.gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: (
        min(1.0, (epoch + 1) / config.warmup_epochs) * config.gamma ** (epoch // config.lr_decay)))


def temperature(config: TrainConfig, epoch: int) -> float:
    r"""The Gumbel-softmax temperature of ``epoch`` (from 0): ``config.tau``
    throughout, or with ``config.tau_final`` the geometric schedule

    .. math::
        \tau_e = \tau \left(\tau_\text{final} / \tau\right)^{e / (E - 1)},

    from :math:`\tau` in the first of the :math:`E` epochs to
    :math:`\tau_\text{final}` in the last (the annealing of Jang et al.,
    2017, asked for in the NRI code's issue 14). The schedule spans
    ``config.epochs``: a run resumed with more epochs goes on along the
    longer schedule."""
    if config.tau_final is None:
        return config.tau
    if config.epochs == 1:
        return config.tau_final
    return config.tau * (config.tau_final / config.tau) ** (epoch / (config.epochs - 1))


def _autocast(precision: str, device: torch.device) -> ContextManager:
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


class EpochMetrics:
    r"""The sums behind an epoch's metrics, kept on the device and read once
    per epoch (:meth:`read`): the NLL and KL summed over nodes, the squared
    error over predicted values, and the confusion matrix of the edge types
    where the relations are known, each added to with fixed-size operations
    (no value read back per step). The counts they are divided by follow
    from the shapes, on the host. Summed over the processes, so the metrics
    do not depend on how the data is split."""

    def __init__(self, num_edge_types: int, device: torch.device) -> None:
        self.sums = torch.zeros(3, dtype=torch.float64, device=device)
        self.counts = [0, 0]  # nodes, predicted values
        self.confusion = torch.zeros(num_edge_types, num_edge_types, dtype=torch.long,
                                     device=device)

    def add(self, terms: Objective, out: NRIOutput, batch: Any) -> None:
        num_nodes = batch.num_nodes
        step = [terms.nll.detach() * num_nodes, terms.kl.detach() * num_nodes]
        self.counts[0] += num_nodes
        if out.predictions is not None:  # the supervised encoder predicts no paths
            error = (out.predictions - out.targets).detach().pow(2)
            step.append(error.sum())
            self.counts[1] += error.numel()
        self.sums[:len(step)] += torch.stack(step).double()
        if out.edge_logits is not None and "edge_type" in batch:  # scored where known
            self.confusion += edge_confusion(out.edge_logits.detach(), batch.edge_type,
                                             self.confusion.size(0))

    def read(self, model: ConfigurableModel, no_edge_type: Optional[int],
             ctx: Context) -> Dict[str, float]:
        r"""The epoch's NLL and KL per node, MSE and edge accuracy."""
        sums = distributed.all_reduce_sum(torch.cat([self.sums, self.sums.new_tensor(
            self.counts)]), ctx).cpu()
        confusion = distributed.all_reduce_sum(self.confusion, ctx).cpu()
        nll, kl, squared_error, nodes, values = sums.tolist()
        return {"nll": nll / nodes, "kl": kl / nodes,
                "mse": squared_error / values if values else float("nan"),
                "accuracy": model_accuracy(model, confusion, no_edge_type)}


def step_kwargs(model: ConfigurableModel, config: TrainConfig, num_steps: int,
                training: bool) -> Dict[str, Any]:
    r"""The decoder's options of a training (``training``) or validation
    step on trajectories of ``num_steps`` steps: how the model's decoder is
    fed (:meth:`~torch_nri.models.ConfigurableModel.training_kwargs`) and,
    in training with ``config.train_segments``, the number of segments it
    rolls out (:func:`~torch_nri.models.base.decode`); validation decodes
    every step."""
    kwargs = model.training_kwargs(num_steps, config.prediction_steps, config.burn_in_steps)
    if training and config.train_segments is not None:
        kwargs["segments"] = config.train_segments
    return kwargs


def training_step(model: ConfigurableModel, forward: torch.nn.Module, batch: Any,
                  decoder_kwargs: Dict[str, Any], optimizer: Optional[torch.optim.Optimizer],
                  scaler: torch.amp.GradScaler, precision: str,
                  metrics: EpochMetrics) -> None:
    r"""One step of the loop on ``batch`` (already on the model's device):
    the forward pass under the run's precision, the objective, and, given
    an ``optimizer``, the backward pass and the update; its terms are added
    to ``metrics``. Nothing is read back to the host (a test runs it on the
    ``meta`` device, where any read fails), except fp16's
    :class:`~torch.amp.GradScaler`, which reads its overflow flag.
    ``forward`` is the model itself, or its DistributedDataParallel and/or
    compiled wrapper."""
    # A new step for CUDA graphs (compile_step): the last step's outputs,
    # read already, may be overwritten. Nothing is done without them.
    torch.compiler.cudagraph_mark_step_begin()
    with _autocast(precision, batch.x.device):
        out = forward(batch.x, batch.edge_index, batch=batch.batch,
                      sizes=getattr(batch, "sizes", None),
                      **relations_of(model, batch), **decoder_kwargs)
    terms = model.objective(out)
    if optimizer is not None:
        optimizer.zero_grad()
        scaler.scale(terms.loss).backward()
        scaler.step(optimizer)
        scaler.update()
    metrics.add(terms, out, batch)


def _run_epoch(model: ConfigurableModel, forward: torch.nn.Module, loader,
               decoder_kwargs: Dict[str, Any], optimizer: Optional[torch.optim.Optimizer],
               scaler: torch.amp.GradScaler, precision: str, no_edge_type: Optional[int],
               ctx: Context, bar_desc: str, progress: bool) -> Dict[str, float]:
    training = optimizer is not None
    model.train(training)
    metrics = EpochMetrics(model.num_edge_types, ctx.device)
    # The bar is given the count, not the loader: tqdm.auto's wrapper would call
    # iter() on it once more, which draws a DataLoader's base seed an extra time.
    with torch.set_grad_enabled(training), tqdm(total=len(loader), desc=bar_desc,
                                                leave=False, disable=not progress) as bar:
        for batch in loader:
            bar.update()
            training_step(model, forward, batch.to(ctx.device, non_blocking=True),
                          decoder_kwargs, optimizer, scaler, precision, metrics)
    return metrics.read(model, no_edge_type, ctx)


def compile_step(module: torch.nn.Module, cuda_graphs: bool) -> torch.nn.Module:
    r"""``module`` through :func:`torch.compile` for the loop's steps. With
    ``cuda_graphs`` (the loop's choice for one process on CUDA whose batches
    all have the same shapes: the fast path of
    :class:`~torch_nri.training.batching.FixedSizeLoader`), CUDA graphs
    (``mode="reduce-overhead"``: a step's kernels replayed in one launch,
    which pays where the kernels are small, as NRI's are) and static shapes:
    the last, smaller batch of an epoch compiles once more (its own graph),
    so no data is dropped. Otherwise the default mode, in which the second
    batch size seen makes the batch dimensions dynamic."""
    if cuda_graphs:
        return torch.compile(module, mode="reduce-overhead", dynamic=False)
    return torch.compile(module)


def _selection_score(model: ConfigurableModel, metrics: Dict[str, float]) -> float:
    # best.pt is the epoch with the lowest validation MSE, or, for a model
    # without a decoder, the highest validation accuracy (NRI's D.1.1).
    return metrics["mse"] if model.decoder is not None else -metrics["accuracy"]


def train(config: TrainConfig, resume: bool = False) -> Dict[str, Any]:
    r"""Trains an NRI model as the paper does and evaluates it on the test
    split with the paper's protocol.

    ``config.model`` picks NRI or one of the baselines of
    :mod:`torch_nri.models`, trained the same way (each minimises its
    ``objective``).

    Writes to ``config.out`` (:class:`~torch_nri.training.RunDirectory`):
    ``config.json``, ``stats.json`` (the data's
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
    that of an uninterrupted run (on CUDA with ``config.deterministic``,
    whose scatter sums otherwise add atomically, in no fixed order). Only the
    budget and where and how fast the run goes (``RESUMABLE``) may differ
    from the saved configuration; any other difference is refused with the
    list of them. Without a
    ``last.pt`` the run starts fresh (and says so). Temporary files that a
    run killed mid-write left in ``config.out`` are removed.

    With ``config.deterministic`` the whole run, the test evaluation
    included, uses :func:`torch.use_deterministic_algorithms` (restored
    after), and on CUDA ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` unless the
    environment sets it: cuBLAS needs it for repeatable results, and reads
    it when the process first multiplies matrices on the GPU.

    Returns:
        dict: The test results (see :func:`~torch_nri.training.evaluate`)
        with ``run_dir``, ``train_seconds`` and ``epochs`` (those trained in
        all, resumed runs included).
    """
    with _deterministic(config.device) if config.deterministic else contextlib.nullcontext():
        return _train(config, resume)


def _train(config: TrainConfig, resume: bool) -> Dict[str, Any]:
    # The run of train(), inside its deterministic setting.
    config.check_protocol()  # before any simulation or training
    run = RunDirectory(config.out)
    if config.threads:
        torch.set_num_threads(config.threads)
    ctx = distributed.setup(config.device)
    if config.checkpoint and ctx.device.type == "cpu":
        limit_mmap_threshold()  # here too: compiled steps do not make the C call
    if ctx.is_main:
        check_output_dir(run.path)
        remove_temporaries(run.path)  # left by a run killed while it wrote a checkpoint
        warn_if_emulated(config.precision, ctx.device)
    checkpoint = None
    if resume and not os.path.exists(run.last_path):
        if ctx.is_main:
            print(f"torch-nri: no checkpoint {run.last_path} to resume; starting a fresh run",
                  file=sys.stderr)
    elif resume:
        checkpoint, config = _resumed(run, config)
    progress = config.progress and ctx.is_main

    torch.manual_seed(config.seed)
    # Rank 0 simulates and caches the data; the others wait, then read the cache.
    if not ctx.is_main:
        distributed.wait_for_data(ctx)
    splits = build_datasets(config)
    train_set, valid_set, test_set = splits
    if ctx.is_main:
        distributed.wait_for_data(ctx)
    # Checked before any training; the run records the test protocol's window.
    config = dataclasses.replace(config, observed_steps=check_data(config, splits))
    if ctx.is_main:
        run.write_config(config.to_dict())
        run.write_stats(train_set.stats)
    num_steps = train_set[0].x.size(1)
    model = build_model(config, train_set).to(ctx.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # Loss scaling keeps float16 gradients from underflowing; a no-op otherwise.
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=config.precision == "fp16")
    scheduler = learning_rate_schedule(optimizer, config)
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
    valid_forward = model
    if config.compile:  # the loop's own calls; the checkpoints hold the plain model
        graphs = ctx.device.type == "cuda" and not ctx.distributed and fixed_size(train_set)
        forward, valid_forward = compile_step(forward, graphs), compile_step(model, graphs)
    train_kwargs, valid_kwargs = (step_kwargs(model, config, num_steps, training)
                                  for training in (True, False))
    no_edge_type = 0 if config.skip_first else None
    valid_loader = make_loader(distributed.shard(valid_set, ctx), config.batch_size, ctx.device)
    sampler = (DistributedSampler(train_set, ctx.world_size, ctx.rank, shuffle=True,
                                  seed=config.seed) if ctx.distributed else None)

    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        # The data was checked where it entered: no value checks (host syncs) per step.
        stack.enter_context(value_checks(False))
        if config.tf32 and ctx.device.type == "cuda":
            stack.enter_context(_tf32())
        history, best_score = _train_epochs(
            config, model, forward, valid_forward, train_set, valid_loader, sampler,
            train_kwargs, valid_kwargs, optimizer, scheduler, scaler, no_edge_type, ctx,
            history, best_score, start_epoch, progress)
    train_seconds = time.perf_counter() - started

    results = evaluate_run(run.path, config=config, test_set=test_set, ctx=ctx)
    results["train_seconds"] = train_seconds
    results["epochs"] = len(history)
    if ctx.is_main:
        run.write_results(results)
        plot_curves(history, run.plot_path("curves"))
    return results


def _resumed(run: RunDirectory, config: TrainConfig):
    # The checkpoint to resume from and the run's configuration: the saved
    # one, with the settings a resumed run may change (RESUMABLE) taken from
    # ``config``. Any other difference is refused: it would be ignored.
    checkpoint = run.read_last()  # the reader of evaluate: corrupt files named
    missing = [key for key in _RESUME_ENTRIES if key not in checkpoint]
    if missing:
        raise ValueError(f"checkpoint {run.last_path} cannot be resumed: it holds no "
                         f"{', '.join(missing)} (is it a last.pt of torch-nri train?)")
    saved = TrainConfig.from_dict(checkpoint["train_config"]).to_dict()
    given = config.to_dict()
    # observed_steps=None stands for the training length, which the run recorded.
    differences = [f"{key}: saved {saved[key]!r}, given {value!r}"
                   for key, value in given.items()
                   if key not in RESUMABLE and value != saved[key]
                   and not (key == "observed_steps" and value is None)]
    if differences:
        raise ValueError(f"cannot resume the run in {config.out} with other settings than it "
                         f"was started with ({'; '.join(differences)}); give the same ones "
                         f"(only {', '.join(RESUMABLE)} may change), or start a new run "
                         f"in another --out")
    return checkpoint, TrainConfig.from_dict({**saved, **{key: given[key]
                                                          for key in RESUMABLE}})


def _train_epochs(config: TrainConfig, model: ConfigurableModel, forward: torch.nn.Module,
                  valid_forward: torch.nn.Module, train_set, valid_loader, sampler,
                  train_kwargs, valid_kwargs, optimizer, scheduler, scaler,
                  no_edge_type: Optional[int], ctx: Context,
                  history: List[Dict[str, float]], best_score: float, start_epoch: int,
                  progress: bool):
    # The epochs of train(): training and validation, then the checkpoints
    # and the log of each. Returns the history and the best score.
    train_loader, run = None, RunDirectory(config.out)
    for epoch in tqdm(range(start_epoch, config.epochs), desc="epochs", initial=start_epoch,
                      total=config.epochs, disable=not progress):
        if config.max_seconds and sum(row["seconds"] for row in history) >= config.max_seconds:
            break  # the time budget is spent (also across resumed runs)
        epoch_start = time.perf_counter()
        # Each process draws its own Gumbel noise and dropout, from its epoch's seed.
        torch.manual_seed(_epoch_seed(config.seed, epoch) + ctx.rank)
        # The split is uploaded to the device with the first epoch's loader
        # and kept there (previous=...); fresh systems are a new split each
        # epoch, the same in every process (a draw of the data's seed).
        epoch_set, previous = train_set, train_loader
        if config.fresh_systems:
            epoch_set, previous = train_set.resimulated(epoch), None
        if sampler is not None:
            sampler.set_epoch(epoch)  # a new split of a new shuffle every epoch
            train_loader = make_loader(epoch_set, config.batch_size, ctx.device,
                                       sampler=sampler, previous=previous)
        else:
            generator = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch))
            train_loader = make_loader(epoch_set, config.batch_size, ctx.device, shuffle=True,
                                       generator=generator, previous=previous)
        lr = optimizer.param_groups[0]["lr"]
        if config.tau_final is not None:
            model.tau = temperature(config, epoch)
        train_metrics = _run_epoch(model, forward, train_loader, train_kwargs, optimizer, scaler,
                                   config.precision, no_edge_type, ctx, "train", progress)
        scheduler.step()
        valid_metrics = _run_epoch(model, valid_forward, valid_loader, valid_kwargs, None, scaler,
                                   config.precision, no_edge_type, ctx, "valid", progress)
        row = {"epoch": epoch + 1, "lr": lr, "seconds": time.perf_counter() - epoch_start}
        row.update({f"train_{k}": v for k, v in train_metrics.items()})
        row.update({f"valid_{k}": v for k, v in valid_metrics.items()})
        history.append(row)
        score = _selection_score(model, valid_metrics)
        improved = score < best_score
        best_score = min(best_score, score)
        if ctx.is_main:  # the only process that writes, so the only one that copies
            state = {**checkpoint_entries(model), "train_config": config.to_dict(),
                     "epoch": epoch + 1}
            if improved:
                run.write_best(state)
            run.write_last({**state, "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                            "history": history, "best_score": best_score})
            run.write_log(history)
        distributed.barrier(ctx)  # the checkpoint exists for every process
    return history, best_score


@contextlib.contextmanager
def _tf32():
    # TF32 matrix multiplies on CUDA inside the block, then the setting as it was.
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


@contextlib.contextmanager
def _deterministic(device: str):
    # Deterministic algorithms inside the block, and, where the run may use
    # CUDA, the cuBLAS workspace that deterministic matrix multiplies need
    # (unless the user set one); then both as they were.
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    workspace = (device != "cpu" and torch.cuda.is_available()
                 and "CUBLAS_WORKSPACE_CONFIG" not in os.environ)
    if workspace:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        if workspace:
            del os.environ["CUBLAS_WORKSPACE_CONFIG"]
