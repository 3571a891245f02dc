r"""Which device a name means, for every entry that takes ``--device``."""
import warnings

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


def native_precision(precision: str, device: torch.device) -> bool:
    r"""Whether ``device`` multiplies matrices in ``precision`` (``"fp32"``,
    ``"bf16"``, ``"fp16"``) in hardware. A CPU needs AVX-512 BF16 or AMX for
    bf16 and AMX-FP16 for fp16; without them PyTorch emulates the products
    (on the AVX2 development machine, 20 to 300 times slower than float32:
    ``benchmarks/throughput.py``). CUDA devices have both (bf16 from
    compute capability 8.0)."""
    if precision == "fp32":
        return True
    if device.type == "cuda":
        return precision == "fp16" or torch.cuda.is_bf16_supported()
    cpu = torch.cpu
    if precision == "bf16":
        return cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported()
    return cpu._is_amx_fp16_supported()


def warn_if_emulated(precision: str, device: torch.device) -> None:
    r"""Warns where ``precision`` would run emulated on ``device``
    (:func:`native_precision`): correct, but far slower than float32."""
    if not native_precision(precision, device):
        name = (f"this CPU (capability {torch.backends.cpu.get_cpu_capability()})"
                if device.type == "cpu" else str(device))
        warnings.warn(f"precision={precision!r}: {name} has no {precision} matrix-multiply "
                      f"instructions, so PyTorch emulates them, far slower than float32 "
                      f"(see benchmarks/throughput.py); use precision 'fp32' here",
                      stacklevel=2)
