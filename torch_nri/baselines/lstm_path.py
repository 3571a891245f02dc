import copy
import math
import time
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from torch_nri.baselines.static import static_mse
from torch_nri.baselines.lstm_network import LSTMNetwork, check_trajectories
from torch_nri.protocol import HORIZON, OBSERVED_STEPS, check_protocol, protocol_steps


class LSTMPathBaseline(LSTMNetwork):
    r"""The path-prediction baselines "LSTM (single)" and "LSTM (joint)" of
    NRI (Kipf et al., 2018, supplement D.1.1), next to the "Static" baseline
    :math:`\mathbf{x}^{t+1} = \mathbf{x}^t`.

    LSTM (single) is the network of "Corr. (LSTM)" (a 2-layer ReLU MLP, a
    2-layer LSTM and a 2-layer output MLP, all of size :math:`H`, see
    :class:`LSTMNetwork`), shared by all objects and run on each object's
    trajectory alone, but trained to predict the state difference, as the
    NRI decoder:

    .. math::
        \boldsymbol{\mu}^{t+1}_j = \mathbf{x}^t_j +
        f_{out}(\mathrm{LSTM}(f_{in}(\mathbf{x}^t_j)))

    LSTM (joint) applies the input MLP to every object, concatenates the
    :math:`N` representations and feeds them to one LSTM with :math:`H N`
    units, whose output is split back into :math:`N` vectors, each fed
    through the shared output MLP to predict that object's state difference.
    It needs a fixed number of objects :math:`N`. (The paper trained it with
    :math:`H = 128` and batch size 1 for lack of GPU memory.)

    Both use the training protocol of NRI's recurrent decoder: the input of
    step :math:`t` is the ground truth for the first ``burn_in_steps`` steps
    and the model's own previous prediction after; :meth:`fit` burns in on
    :math:`T - M` steps and predicts the last :math:`M` on its own
    (``prediction_steps``, 10 in the paper), with the MSE over all predicted
    steps. :meth:`evaluate` follows the package's test protocol
    (:func:`~torch_nri.training.evaluate`).

    .. code-block:: python

        model = LSTMPathBaseline(4, num_nodes=None)  # LSTM (single)
        model.fit(x_train, valid=x_valid)
        metrics = model.evaluate(x_test)  # {"mse": [...], "mse_static": [...], ...}

    Args:
        num_features (int): Features :math:`F` per object and step.
        hidden_channels (int, optional): Size :math:`H` of the MLPs and, per
            object, of the LSTM (256 in the paper). (default: :obj:`256`)
        num_nodes (int, optional): :obj:`None` for LSTM (single); the number
            of objects :math:`N` for LSTM (joint), whose LSTM has
            :math:`H N` units. (default: :obj:`None`)

    Shapes:
        - **x:** trajectories :math:`(S, T, N, F)`
        - **output:** predictions of steps :math:`1..T-1`,
          :math:`(S, T - 1, N, F)`
    """
    def __init__(self, num_features: int, hidden_channels: int = 256,
                 num_nodes: Optional[int] = None) -> None:
        if num_nodes is not None and (not isinstance(num_nodes, int) or num_nodes < 1):
            raise ValueError(f"'num_nodes' must be None (LSTM (single)) or a positive integer "
                             f"(LSTM (joint)), got {num_nodes!r}")
        super().__init__(num_features, hidden_channels, num_objects=num_nodes or 1)
        self.num_nodes = num_nodes
        self.history: List[Dict[str, float]] = []

    @property
    def joint(self) -> bool:
        r""":obj:`True` for LSTM (joint)."""
        return self.num_nodes is not None

    def _check(self, x: Tensor, name: str = "x", min_steps: int = 2) -> Tensor:
        dtype = next(self.parameters()).dtype
        x = check_trajectories(x, self.num_features, self.num_nodes, name, dtype)
        if x.size(0) < 1 or x.size(2) < 1:
            raise ValueError(f"'{name}' must hold at least one system and one object, got "
                             f"shape {tuple(x.shape)}")
        if x.size(1) < min_steps:
            raise ValueError(f"'{name}' must have at least {min_steps} steps, got shape "
                             f"{tuple(x.shape)}")
        return x

    def _sequences(self, x: Tensor) -> Tensor:
        r"""Trajectories ``[S, T, N, F]`` as the network's independent
        sequences ``[B, T, K, F]``: one per object (single, ``B = S N``,
        ``K = 1``) or per system (joint, ``K = N``)."""
        if self.joint:
            return x
        return x.permute(0, 2, 1, 3).flatten(0, 1).unsqueeze(2)

    def _trajectories(self, sequences: Tensor, num_sims: int) -> Tensor:
        r"""The inverse of :meth:`_sequences`."""
        if self.joint:
            return sequences
        _, num_steps, _, num_features = sequences.shape
        return sequences.view(num_sims, -1, num_steps, num_features).permute(0, 2, 1, 3)

    def _rollout(self, sequences: Tensor, burn_in_steps: int) -> Tensor:
        r"""Predictions ``[B, T - 1, K, F]`` of steps ``1..T-1`` of sequences
        ``[B, T, K, F]``."""
        burn_in = min(burn_in_steps, sequences.size(1) - 1)
        inputs = sequences[:, :burn_in]
        out, _, state = self.network(inputs)  # the burn-in in one call
        last = inputs + out
        predictions = [last]
        last = last[:, -1:]
        for _ in range(burn_in, sequences.size(1) - 1):  # then on its own predictions
            out, _, state = self.network(last, state)
            last = last + out
            predictions.append(last)
        return torch.cat(predictions, dim=1)

    def forward(self, x: Tensor, burn_in_steps: int) -> Tensor:
        r"""Predicts steps :math:`1..T-1` of ``x``.

        Args:
            x (torch.Tensor): Trajectories ``[S, T, N, F]``.
            burn_in_steps (int): The input of step :math:`t` (0-based) is the
                ground truth for :math:`t <` ``burn_in_steps`` and the
                previous prediction after, as in
                :class:`~torch_nri.nn.RNNDecoder`. At least 1.
        """
        x = self._check(x)
        if burn_in_steps < 1:
            raise ValueError(f"'burn_in_steps' must be at least 1, got {burn_in_steps}")
        device = next(self.parameters()).device
        sequences = self._sequences(x.to(device))
        return self._trajectories(self._rollout(sequences, burn_in_steps), x.size(0))

    @torch.no_grad()
    def _mse(self, sequences: Tensor, burn_in_steps: int, batch_size: int) -> float:
        r"""The training loss (MSE over all predicted steps) of ``sequences``."""
        self.eval()
        device = next(self.parameters()).device
        total = 0.0
        for batch in sequences.split(batch_size):
            batch = batch.to(device)
            predictions = self._rollout(batch, burn_in_steps)
            total += (predictions - batch[:, 1:]).double().pow(2).sum().item()
        return total / sequences[:, 1:].numel()

    def fit(self, x: Tensor, epochs: int = 10, batch_size: int = 128, lr: float = 5e-4,
            prediction_steps: int = 10, seed: int = 42, valid: Optional[Tensor] = None,
            progress: bool = False, max_seconds: Optional[float] = None
            ) -> "LSTMPathBaseline":
        r"""Trains the model on the trajectories ``x`` with Adam and the MSE
        over all predicted steps, burnt in on the first
        :math:`T -` ``prediction_steps`` steps (at least 1). Shuffling is
        seeded (``seed``), so the same initial parameters and ``seed`` give
        the same parameters. The sequences of a batch are objects (single)
        or systems (joint).

        Args:
            x (torch.Tensor): Training trajectories ``[S, T, N, F]``.
            epochs (int, optional): Passes over ``x``. (default: :obj:`10`)
            batch_size (int, optional): Sequences per step: objects for
                LSTM (single), systems for LSTM (joint). (default: :obj:`128`)
            lr (float, optional): Adam's learning rate. (default: :obj:`5e-4`)
            prediction_steps (int, optional): Steps :math:`M` predicted
                after the burn-in. (default: :obj:`10`)
            seed (int, optional): Seed of the shuffling. (default: :obj:`42`)
            valid (torch.Tensor, optional): Validation trajectories; if
                given, the parameters of the epoch with the lowest validation
                MSE (same protocol) are kept, as the training loop's
                ``best.pt``. (default: :obj:`None`)
            progress (bool, optional): Shows a progress bar over the epochs.
                (default: :obj:`False`)
            max_seconds (float, optional): Stops after the first epoch that
                ends past this training time. (default: :obj:`None`)

        After training, :attr:`history` holds one dict per epoch
        (``epoch``, ``train_mse`` (the mean loss of the epoch's batches),
        ``valid_mse`` with ``valid``, ``seconds``).
        """
        x = self._check(x)
        valid = None if valid is None else self._check(valid, "valid")
        if prediction_steps < 1:
            raise ValueError(f"'prediction_steps' must be at least 1, got {prediction_steps}")
        if batch_size < 1:
            raise ValueError(f"'batch_size' must be at least 1, got {batch_size}")
        sequences = self._sequences(x)
        burn_in = max(x.size(1) - prediction_steps, 1)
        if valid is not None:
            valid_sequences = self._sequences(valid)
            valid_burn_in = max(valid.size(1) - prediction_steps, 1)
        device = next(self.parameters()).device
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        best_mse, best_state = math.inf, None
        self.history = []
        start = time.monotonic()
        bar = tqdm(range(epochs), desc="epochs", disable=not progress)
        for epoch in bar:
            self.train()
            total = 0.0
            for index in torch.randperm(sequences.size(0), generator=generator).split(batch_size):
                batch = sequences[index].to(device)
                loss = F.mse_loss(self._rollout(batch, burn_in), batch[:, 1:])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * index.numel()
            row = {"epoch": epoch + 1, "train_mse": total / sequences.size(0)}
            if valid is not None:
                row["valid_mse"] = self._mse(valid_sequences, valid_burn_in, 1000)
                if row["valid_mse"] < best_mse:
                    best_mse = row["valid_mse"]
                    best_state = copy.deepcopy(self.state_dict())
            row["seconds"] = time.monotonic() - start
            self.history.append(row)
            bar.set_postfix({k: f"{v:.3e}" for k, v in row.items() if k.endswith("mse")})
            if max_seconds is not None and row["seconds"] >= max_seconds:
                break
        if best_state is not None:
            self.load_state_dict(best_state)
        self.eval()
        return self

    @torch.no_grad()
    def evaluate(self, x: Tensor, observed_steps: int = OBSERVED_STEPS, horizon: int = HORIZON,
                 batch_size: int = 1000) -> Dict[str, Any]:
        r"""The package's test protocol (:mod:`torch_nri.protocol`):
        the model is burnt in on the ground truth of steps
        ``0..observed_steps`` (as the recurrent decoder, with
        ``burn_in_steps=observed_steps + 1``), then predicts steps
        ``observed_steps + 1 .. observed_steps + horizon`` on its own.

        Returns:
            dict: ``mse`` (a list, one value per predicted step: the squared
            error averaged over features, then over all objects of all
            systems), ``mse_static`` (the same for the "Static" baseline
            :math:`\mathbf{x}^{t+h} = \mathbf{x}^t`, ``t = observed_steps``)
            and ``num_examples`` (systems).
        """
        x = self._check(x)
        check_protocol(x.size(1), observed_steps, horizon)
        self.eval()
        device = next(self.parameters()).device
        squared_error = torch.zeros(horizon, dtype=torch.float64)
        for batch in x.split(batch_size):
            _, known, target = protocol_steps(batch.to(device), observed_steps, horizon)
            # Burnt in on the known steps, then on its own for the horizon.
            sequences = self._sequences(torch.cat([known, target], dim=1))
            predictions = self._trajectories(self._rollout(sequences, observed_steps + 1),
                                             batch.size(0))[:, observed_steps:]
            # Per step: sum over objects of the per-object feature mean, as evaluate().
            squared_error += (predictions - target).pow(2).mean(-1).sum((0, 2)).double().cpu()
        num_nodes = x.size(0) * x.size(2)
        return {"mse": (squared_error / num_nodes).tolist(),
                "mse_static": static_mse(x, observed_steps, horizon),
                "num_examples": x.size(0)}
