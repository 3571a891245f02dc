"""The teacher-forced rollout shared by the Markovian decoders."""
from typing import Any, Callable, Tuple

import torch
from torch import Tensor

# (state [N, S, F], carry) -> (next state [N, S, F], carry); carry is the
# decoder's recurrent memory within a segment (None at its start).
StepFn = Callable[[Tensor, Any], Tuple[Tensor, Any]]


def segment_rollout(x: Tensor, prediction_steps: int, step: StepFn) -> Tensor:
    r"""Predicts steps :math:`2..T` of ``x`` ``[N, T, F]`` in segments of
    :math:`M` = ``prediction_steps`` steps, each started from the ground
    truth at steps :math:`0, M, 2M, \dots` and continued from the decoder's
    own predictions (NRI section 3.4; NRI-MPM Algorithm 1 with
    :math:`D = \lceil (T - 1) / M \rceil` segments). All segments run at once:
    ``step`` sees states ``[N, D, F]``, and the loop is over the :math:`M`
    steps of a segment, not over :math:`T`.

    Returns:
        torch.Tensor: Predictions ``[N, T - 1, F]``.
    """
    if prediction_steps < 1:
        raise ValueError(f"'prediction_steps' must be at least 1, got {prediction_steps}")
    num_nodes, num_steps, num_features = x.shape
    state, carry = x[:, 0:num_steps - 1:prediction_steps], None
    predictions = []
    for _ in range(min(prediction_steps, num_steps - 1)):
        state, carry = step(state, carry)
        predictions.append(state)
    # predictions[m][:, d] is the prediction of step d * M + m + 1.
    out = torch.stack(predictions, dim=2).reshape(num_nodes, -1, num_features)
    return out[:, :num_steps - 1]
