from typing import List

from torch import Tensor

from torch_nri.baselines.lstm_network import check_trajectories


def static_mse(x: Tensor, encoder_steps: int = 49, horizon: int = 20) -> List[float]:
    r"""The MSE of the "Static" baseline of NRI (Table 2), which repeats the
    last observed state, :math:`\mathbf{x}^{t+h} = \mathbf{x}^t` with
    :math:`t =` ``encoder_steps``, under the package's test protocol: one
    value per step :math:`h = 1..` ``horizon``, the squared error averaged
    over features and then over all objects of all systems, as
    :func:`~torch_nri.training.evaluate` reports it (``mse_static``).

    Args:
        x (torch.Tensor): Trajectories ``[S, T, N, F]`` with
            :math:`T \geq` ``encoder_steps + horizon + 1``.
    """
    x = check_trajectories(x)
    end = encoder_steps + horizon + 1
    if x.size(1) < end:
        raise ValueError(f"the test protocol needs {end} steps (encoder {encoder_steps} + "
                         f"horizon {horizon} + 1), the data has {x.size(1)}")
    change = x[:, encoder_steps + 1:end] - x[:, encoder_steps:encoder_steps + 1]
    return change.double().pow(2).mean(-1).mean((0, 2)).tolist()
