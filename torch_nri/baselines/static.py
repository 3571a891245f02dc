from typing import List

import torch
from torch import Tensor

from torch_nri.baselines.lstm_network import check_trajectories
from torch_nri.protocol import HORIZON, OBSERVED_STEPS, static_squared_error


def static_mse(x: Tensor, observed_steps: int = OBSERVED_STEPS,
               horizon: int = HORIZON) -> List[float]:
    r"""The MSE of the "Static" baseline of NRI (Table 2), which repeats the
    last observed state, :math:`\mathbf{x}^{t+h} = \mathbf{x}^t` with
    :math:`t =` ``observed_steps``, under the test protocol
    (:mod:`torch_nri.protocol`): one value per step :math:`h = 1..`
    ``horizon``, the squared error averaged over features and then over all
    objects of all systems, as :func:`~torch_nri.training.evaluate` reports
    it (``mse_static``).

    Args:
        x (torch.Tensor): Trajectories ``[S, T, N, F]`` with
            :math:`T \geq` ``observed_steps + horizon + 1``.
    """
    x = check_trajectories(x, dtype=torch.float64)
    return static_squared_error(x, observed_steps, horizon).mean((0, 2)).tolist()
