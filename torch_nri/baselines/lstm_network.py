from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.nn import LSTM, Linear, Module, ReLU, Sequential

from torch_nri._validation import check_finite

LSTMState = Tuple[Tensor, Tensor]


def check_trajectories(x: Tensor, num_features: Optional[int] = None,
                       num_nodes: Optional[int] = None, name: str = "x",
                       dtype: Optional[torch.dtype] = None) -> Tensor:
    r"""Checks trajectories ``[S, T, N, F]`` in the layout of the baselines:
    4-D, finite, with ``num_features`` features and ``num_nodes`` objects
    where given. Returns them as a floating point tensor (``dtype``, default
    :obj:`torch.float32`)."""
    x = torch.as_tensor(x)
    if x.dim() != 4:
        raise ValueError(f"'{name}' must have shape [num_sims, num_steps, num_nodes, "
                         f"num_features], got {tuple(x.shape)}")
    if num_features is not None and x.size(3) != num_features:
        raise ValueError(f"'{name}' must have {num_features} features in its last "
                         f"dimension, got shape {tuple(x.shape)}")
    if num_nodes is not None and x.size(2) != num_nodes:
        raise ValueError(f"'{name}' must have {num_nodes} objects (the model was built for "
                         f"that number), got shape {tuple(x.shape)}")
    x = x.to(dtype or torch.float32)
    check_finite(x, name)
    return x


class LSTMNetwork(Module):
    r"""The network of NRI's LSTM baselines (Kipf et al., 2018, supplement
    D.1.1), shared by :class:`LSTMCorrelationBaseline` ("Corr. (LSTM)") and
    :class:`LSTMPathBaseline` ("LSTM (single)" and "LSTM (joint)"): a 2-layer
    MLP (ReLU on the hidden layer) embeds each object's state, the embeddings
    of the :math:`K` objects of a sequence are concatenated and fed to a
    2-layer LSTM with :math:`K H` units, whose output is split back into
    :math:`K` vectors of size :math:`H` and fed through a 2-layer output MLP
    (ReLU on the hidden layer), the same for every object. :math:`K = 1`
    models each trajectory alone; :math:`K = N` is LSTM (joint).

    Args:
        num_features (int): Features :math:`F` per object and step.
        hidden_channels (int, optional): Size :math:`H` of the MLPs and, per
            object, of the LSTM (256 in the paper). (default: :obj:`256`)
        num_objects (int, optional): Objects :math:`K` per sequence.
            (default: :obj:`1`)

    Shapes:
        - **input:** sequences :math:`(B, T, K, F)`
        - **output:** outputs :math:`(B, T, K, F)`, the LSTM's output
          :math:`(B, T, K H)` and its state
    """
    def __init__(self, num_features: int, hidden_channels: int = 256,
                 num_objects: int = 1) -> None:
        super().__init__()
        for name, value in (("num_features", num_features),
                            ("hidden_channels", hidden_channels), ("num_objects", num_objects)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        self.num_features = num_features
        self.hidden_channels = hidden = hidden_channels
        self.num_objects = num_objects
        self.input_mlp = Sequential(Linear(num_features, hidden), ReLU(), Linear(hidden, hidden))
        self.lstm = LSTM(hidden * num_objects, hidden * num_objects, num_layers=2,
                         batch_first=True)
        self.output_mlp = Sequential(Linear(hidden, hidden), ReLU(),
                                     Linear(hidden, num_features))

    def network(self, x: Tensor, state: Optional[LSTMState] = None
                ) -> Tuple[Tensor, Tensor, LSTMState]:
        r"""Runs the network on sequences ``[B, T, K, F]`` from the LSTM
        ``state`` (default: zeros). Returns the outputs ``[B, T, K, F]``, the
        LSTM's output ``[B, T, K * H]`` and its new state."""
        batch_size, num_steps, num_objects, _ = x.shape
        out, state = self.lstm(self.input_mlp(x).flatten(2), state)
        outputs = self.output_mlp(out.view(batch_size, num_steps, num_objects, -1))
        return outputs, out, state
