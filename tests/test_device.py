import pytest
import torch

from torch_nri.device import is_device_name, resolve_device
from torch_nri.training import TrainConfig

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert all(is_device_name(name) for name in ("auto", "cpu", "cuda", "cuda:1"))
    assert not any(is_device_name(name) for name in ("gpu", "cuda:", "cuda:x", "mps"))
    with pytest.raises(ValueError, match=r"'device' must be one of .*got 'gpu'"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match=r"'device' must be one of .*got 'gpu'"):
        TrainConfig(device="gpu")
    TrainConfig(device="cuda:3")  # the form is checked here, the machine where it runs


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it_is_a_clear_error():
    with pytest.raises(ValueError, match=r"device='cuda', but CUDA is not available here "
                                         r"\(torch .*\); use --device cpu or auto"):
        resolve_device("cuda")


@cuda
def test_a_cuda_device_beyond_the_machine_s_is_refused():
    count = torch.cuda.device_count()
    with pytest.raises(ValueError, match=f"this machine has {count} CUDA device"):
        resolve_device(f"cuda:{count}")


@cuda
def test_training_and_evaluation_on_cuda(tmp_path):
    from torch_nri.training import evaluate_run, train

    config = TrainConfig(device="cuda", num_train=32, num_valid=8, num_test=8,
                         encoder_hidden=8, decoder_hidden=8, batch_size=16, epochs=1,
                         progress=False, out=str(tmp_path / "run"),
                         data_root=str(tmp_path / "data"))
    results = train(config)
    again = evaluate_run(config.out, device="cpu")  # the checkpoint loads on any device
    assert again["accuracy"] == pytest.approx(results["accuracy"], abs=0.05)
