import time
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_nri.baselines.correlation import CorrelationBaseline
from torch_nri.baselines.lstm_network import LSTMNetwork, check_trajectories


class LSTMCorrelationBaseline(LSTMNetwork):
    r"""The "Corr. (LSTM)" baseline of NRI (Kipf et al., 2018, supplement
    D.1.1): one 2-layer LSTM, shared by all objects, is trained to predict
    each object's next state from its own past (each trajectory alone, MSE,
    the ground truth as input at every step), with 2-layer ReLU MLPs before
    and after it (the network of :class:`LSTMNetwork` with one object per
    sequence). The interaction graph is then read from the correlations
    between the objects' LSTM outputs at the last step, thresholded as in
    :class:`CorrelationBaseline` (raw or absolute, fitted for accuracy).

    Args:
        num_features (int): Features :math:`F` per object and step.
        hidden_channels (int, optional): Size of the MLPs and the LSTM
            (256 in the paper). (default: :obj:`256`)

    Shapes:
        - **x:** trajectories :math:`(S, T, N, F)`
        - **edges:** true relations :math:`(S, N, N)`
    """
    def __init__(self, num_features: int, hidden_channels: int = 256) -> None:
        super().__init__(num_features, hidden_channels)
        self.correlation = CorrelationBaseline()

    def forward(self, paths: Tensor) -> Tuple[Tensor, Tensor]:
        r"""Next-state predictions ``[B, T, F]`` of trajectories ``[B, T, F]``
        and the LSTM's output at the last step ``[B, H]``."""
        predictions, out, _ = self.network(paths.unsqueeze(2))
        return predictions.squeeze(2), out[:, -1]

    def _paths(self, x: Tensor) -> Tensor:
        x = check_trajectories(x, self.num_features)
        return x.permute(0, 2, 1, 3).flatten(0, 1)  # [S * N, T, F]

    def fit(self, x: Tensor, edges: Tensor, epochs: int = 10, batch_size: int = 128,
            lr: float = 1e-3, seed: int = 42, threshold_data: Optional[Tuple[Tensor,
                                                                             Tensor]] = None,
            max_seconds: Optional[float] = None) -> "LSTMCorrelationBaseline":
        r"""Trains the LSTM on the trajectories ``x`` for ``epochs`` epochs
        (Adam; fewer if ``max_seconds`` of training pass first, checked after
        each epoch), then fits the threshold on ``threshold_data``
        (``(x, edges)``; default: ``x`` and ``edges``; the paper uses training
        and validation systems together)."""
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        paths = self._paths(x)
        device = next(self.parameters()).device
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        self.train()
        started = time.perf_counter()
        for _ in range(epochs):
            if max_seconds is not None and time.perf_counter() - started >= max_seconds:
                break
            for index in torch.randperm(paths.size(0), generator=generator).split(batch_size):
                batch = paths[index].to(device)
                predictions, _ = self(batch[:, :-1])
                loss = F.mse_loss(predictions, batch[:, 1:])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        x_fit, edges_fit = threshold_data if threshold_data is not None else (x, edges)
        self.correlation.fit(self.hidden_states(x_fit), edges_fit)
        return self

    @torch.no_grad()
    def hidden_states(self, x: Tensor) -> Tensor:
        r"""Each object's LSTM output at the last step, as one-step
        "trajectories" ``[S, 1, N, H]`` for :class:`CorrelationBaseline`."""
        self.eval()
        _, last = self(self._paths(x).to(next(self.parameters()).device))
        return last.view(x.size(0), 1, x.size(2), -1).cpu()

    def predict(self, x: Tensor) -> Tensor:
        r"""Predicted edges ``[S, N, N]`` (1 for an edge)."""
        return self.correlation.predict(self.hidden_states(x))

    def score(self, x: Tensor, edges: Tensor) -> float:
        r"""Accuracy of :meth:`predict` over the off-diagonal pairs."""
        return self.correlation.score(self.hidden_states(x), edges)
