r"""Host memory of large steps: transparent huge pages, and glibc's heap
under chunked checkpointing.

Huge pages. A step on :math:`10^4`-:math:`10^6` objects allocates and frees
buffers of tens of megabytes thousands of times, and the kernel maps each one
in afresh, 4 KiB page by page. PyTorch's CPU allocator can ask for 2 MiB
(transparent huge) pages for buffers of 2 MiB and more, when the environment
variable ``THP_MEM_ALLOC_ENABLE`` is set before :mod:`torch` is first
imported (it is read once, at torch's first allocation); NumPy does the same
for its large arrays by default. :func:`enable_huge_pages` sets it where it
still can (``import torch_nri`` before ``torch``, as the ``torch-nri``
command does); measured, one checkpointed training step on 10,000 objects
(``benchmarks/scaling.py --series knn+ckpt --sizes 10000 --batch 1
--hidden 64 --threads 1``) took 16.4 s instead of 28.4 s, with the same peak
memory (0.90 GB). A value in the environment is left as it is (``0`` turns it
off), and the kernel must allow it (``/sys/kernel/mm/transparent_hugepage/enabled``
``madvise`` or ``always``).

glibc's heap. A checkpointed step allocates and frees chunk-sized buffers (megabytes)
thousands of times. glibc serves an allocation above its *mmap threshold*
with a fresh mapping that goes back to the system when freed, and smaller
ones from its heap, which keeps freed memory for reuse. The threshold is
dynamic: each freed mapping raises it to that mapping's size (up to 32 MiB),
so after the first chunk every chunk buffer comes from the heap, whose freed
pieces fragment and are not returned: on the N = 100 step of
docs/benchmarks.rst (batch 8, hidden 256) the process peaked at 3.49 GB for
1.52 GB with a fixed threshold. Setting the threshold (what
``MALLOC_MMAP_THRESHOLD_=65536`` does from the environment) fixes it and
turns the dynamic rule off.
"""
import ctypes
import ctypes.util
import os
import platform
import sys
from typing import Optional


def enable_huge_pages() -> bool:
    r"""Sets ``THP_MEM_ALLOC_ENABLE=1`` (PyTorch's huge pages for buffers of
    2 MiB and more) where :mod:`torch` is not imported yet and the variable
    is not set; returns whether it did. Called on ``import torch_nri``."""
    if "torch" in sys.modules or "THP_MEM_ALLOC_ENABLE" in os.environ:
        return False
    os.environ["THP_MEM_ALLOC_ENABLE"] = "1"
    return True


#: The mmap threshold in bytes that :func:`limit_mmap_threshold` sets, or
#: :obj:`None` to leave glibc's allocator alone.
CPU_MMAP_THRESHOLD: Optional[int] = 64 * 2**10

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_done = False


def limit_mmap_threshold() -> bool:
    r"""Sets glibc's mmap threshold to :data:`CPU_MMAP_THRESHOLD` once per
    process, so that freed chunk buffers go back to the system. Does
    nothing where the threshold is :obj:`None`, the C library is not glibc,
    or the user set the threshold in the environment
    (``MALLOC_MMAP_THRESHOLD_`` or ``glibc.malloc.mmap_threshold`` in
    ``GLIBC_TUNABLES``). Returns whether it set it (now or before)."""
    global _done
    if _done or CPU_MMAP_THRESHOLD is None:
        return _done
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or \
            "glibc.malloc.mmap_threshold" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, int(CPU_MMAP_THRESHOLD)))
    return _done
