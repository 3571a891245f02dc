r"""Which device a name means, for every entry that takes ``--device``."""
import torch

DEVICES = ("auto", "cpu", "cuda", "cuda:N")


def is_device_name(device: str) -> bool:
    r"""Whether ``device`` has the form of a device name (:data:`DEVICES`)."""
    if device in ("auto", "cpu", "cuda"):
        return True
    kind, _, index = str(device).partition(":")
    return kind == "cuda" and index.isdigit()


def resolve_device(device: str = "auto") -> torch.device:
    r"""The device a name means: ``"auto"`` (CUDA when available, else the
    CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; a clear error for a CUDA
    device this machine does not have."""
    if not is_device_name(device):
        raise ValueError(f"'device' must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
            raise ValueError(f"device={device!r}, but CUDA is not available here (torch "
                             f"{torch.__version__}, {build}); use --device cpu or auto")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(f"device={device!r}, but this machine has {count} CUDA "
                             f"device{'s' if count != 1 else ''} (cuda:0..cuda:{count - 1})")
    return resolved
