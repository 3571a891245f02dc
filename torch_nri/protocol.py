r"""The test protocol of the NRI papers, in one place for the models'
evaluation (:func:`torch_nri.training.evaluate`) and the baselines
(:mod:`torch_nri.baselines`).

Of each test trajectory the encoder sees the first :math:`W` steps (the
paper's :math:`W = 49`, the length of the training trajectories); the
decoder starts from the true state of step :math:`W` (0-based) and
predicts the next :math:`H = 20` steps on its own. The "Static" baseline of
NRI's Table 2 repeats that state,
:math:`\mathbf{x}^{W + h} = \mathbf{x}^{W}`. Trajectories are laid out with
time in dimension 1: ``[N, T, F]`` for the models, ``[S, T, N, F]`` for the
baselines.
"""
from typing import Tuple

from torch import Tensor

#: The steps the encoder sees in the NRI papers (their training length).
OBSERVED_STEPS = 49
#: The steps the decoder predicts in the NRI papers.
HORIZON = 20


def check_protocol(num_steps: int, observed_steps: int, horizon: int,
                   source: str = "the data") -> None:
    r"""Raises unless trajectories of ``num_steps`` steps hold the
    ``observed_steps + horizon + 1`` steps that the protocol reads."""
    if observed_steps < 1 or horizon < 1:
        raise ValueError(f"the test protocol needs at least 1 observed step and a horizon of "
                         f"at least 1, got observed_steps={observed_steps} and "
                         f"horizon={horizon}")
    needed = observed_steps + horizon + 1
    if num_steps < needed:
        raise ValueError(f"the test protocol needs {needed} steps (encoder {observed_steps} + "
                         f"horizon {horizon} + 1), {source} has {num_steps}")


def protocol_steps(x: Tensor, observed_steps: int, horizon: int
                   ) -> Tuple[Tensor, Tensor, Tensor]:
    r"""The parts of trajectories ``x`` (time in dimension 1) that the
    protocol reads: the encoder's window (steps :math:`0..W-1`), the
    decoder's known steps (:math:`0..W`) and the targets
    (:math:`W+1..W+H`)."""
    check_protocol(x.size(1), observed_steps, horizon)
    end = observed_steps + horizon + 1
    return x[:, :observed_steps], x[:, :observed_steps + 1], x[:, observed_steps + 1:end]


def static_squared_error(x: Tensor, observed_steps: int = OBSERVED_STEPS,
                         horizon: int = HORIZON) -> Tensor:
    r"""The squared error of the "Static" baseline at each of the ``horizon``
    steps, averaged over the features: ``[B, H, *]`` for ``x`` ``[B, T, *, F]``."""
    _, known, targets = protocol_steps(x, observed_steps, horizon)
    return (targets - known[:, -1:]).pow(2).mean(-1)
