import pytest
import torch

from torch_nri.protocol import (HORIZON, OBSERVED_STEPS, check_protocol, protocol_steps,
                                static_squared_error)


def test_the_papers_protocol_reads_49_observed_steps_and_20_more():
    x = torch.arange(99.0).view(1, 99, 1).expand(3, 99, 2)  # [N, T, F], value = step
    window, known, targets = protocol_steps(x, OBSERVED_STEPS, HORIZON)
    assert window.shape == (3, 49, 2) and window[0, -1, 0] == 48
    assert known.shape == (3, 50, 2) and known[0, -1, 0] == 49  # the decoder's start
    assert targets.shape == (3, 20, 2) and targets[0, 0, 0] == 50 and targets[0, -1, 0] == 69


def test_static_error_is_the_squared_change_from_the_last_observed_step():
    x = torch.randn(4, 30, 5, 3)  # the baselines' [S, T, N, F]
    error = static_squared_error(x, observed_steps=10, horizon=6)
    assert error.shape == (4, 6, 5)
    expected = (x[:, 11:17] - x[:, 10:11]).pow(2).mean(-1)
    assert torch.allclose(error, expected)


def test_too_short_trajectories_are_refused():
    with pytest.raises(ValueError, match=r"needs 70 steps \(encoder 49 \+ horizon 20 \+ 1\), "
                                         r"the test split has 49"):
        check_protocol(49, 49, 20, source="the test split")
    with pytest.raises(ValueError, match="at least 1 observed step and a horizon of at least 1"):
        check_protocol(99, 49, 0)
