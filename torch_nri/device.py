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


def check_device_name(device: str) -> None:
    r"""Raises a :class:`ValueError` unless ``device`` is a device name
    (:data:`DEVICES`), whether or not this machine has that device. Apple's
    ``"mps"`` is refused with the reason: it is untested here, and the loop
    sums its metrics in float64, which MPS does not have."""
    if str(device).partition(":")[0] == "mps":
        raise ValueError(f"device={device!r}: Apple's MPS is not supported (untested, and "
                         f"the training metrics are summed in float64, which MPS lacks); "
                         f"use --device cpu")
    if not is_device_name(device):
        raise ValueError(f"'device' must be one of {DEVICES}, got {device!r}")


def uses_cuda(device: str) -> bool:
    r"""Whether the device name ``device`` means CUDA on this machine:
    ``"cuda"`` and ``"cuda:N"``, and ``"auto"`` where PyTorch sees a GPU.
    Raises a :class:`ValueError` for a name that is not a device
    (:func:`check_device_name`) and for CUDA on a machine without it."""
    check_device_name(device)
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return False
    if not torch.cuda.is_available():
        build = "a CPU build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise ValueError(f"device={device!r}, but CUDA is not available here (torch "
                         f"{torch.__version__}, {build}); use --device cpu or auto")
    return True


def resolve_device(device: str = "auto") -> torch.device:
    r"""The device a name means: ``"auto"`` (CUDA when available, else the
    CPU), ``"cpu"``, ``"cuda"`` (the current CUDA device) or ``"cuda:N"``.
    A CUDA device always has its index (``cuda:0``, never ``cuda``), as
    :func:`torch.cuda.set_device` needs. Raises a clear
    :class:`ValueError` for a name that is not a device
    (:func:`check_device_name`) and for a CUDA device this machine does not
    have."""
    if not uses_cuda(device):
        return torch.device("cpu")
    if device in ("auto", "cuda"):
        return torch.device("cuda", torch.cuda.current_device())
    index, count = int(device.partition(":")[2]), torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"device={device!r}, but this machine has {count} CUDA "
                         f"device{'s' if count != 1 else ''} (cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index)


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
