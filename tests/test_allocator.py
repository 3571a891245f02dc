"""torch_nri._allocator: glibc's mmap threshold for chunked checkpointing."""
import platform
import subprocess
import sys
import textwrap

import pytest

from torch_nri import _allocator

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="glibc's allocator only")

# Frees 128 MiB of heap buffers that a freed 24 MiB mapping has moved below
# glibc's dynamic mmap threshold; prints the MiB given back to the system.
PROBE = textwrap.dedent("""
    import importlib.util, os, sys, torch
    # The module alone: importing the package would take longer than the probe.
    spec = importlib.util.spec_from_file_location("allocator", sys.argv[2])
    _allocator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_allocator)
    if sys.argv[1] == "limit":
        assert _allocator.limit_mmap_threshold()
    def resident_mib():
        pages = int(open("/proc/self/statm").read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    big = torch.ones(6 * 2**20)
    del big
    blocks, pins = [], []
    for _ in range(8):
        blocks.append(torch.ones(4 * 2**20))
        pins.append(torch.ones(1024))  # small blocks after each: no trimming
    before = resident_mib()
    del blocks
    print(before - resident_mib())
""")


def freed_mib(mode):
    done = subprocess.run([sys.executable, "-c", PROBE, mode, _allocator.__file__],
                          capture_output=True, text=True, check=True)
    return float(done.stdout)


@glibc
def test_the_threshold_returns_freed_chunk_buffers_to_the_system():
    limited, default = freed_mib("limit"), freed_mib("default")
    assert limited >= 120
    # The test can fail: glibc's own rule keeps some of them.
    assert default < limited - 16


@pytest.mark.parametrize("name,value", [("MALLOC_MMAP_THRESHOLD_", "1048576"),
                                        ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1048576")])
def test_a_threshold_from_the_environment_is_left_alone(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(_allocator, "_done", False)
    assert _allocator.limit_mmap_threshold() is False


def test_no_threshold_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setattr(_allocator, "CPU_MMAP_THRESHOLD", None)
    monkeypatch.setattr(_allocator, "_done", False)
    assert _allocator.limit_mmap_threshold() is False


def _huge_pages_setting(code, env):
    done = subprocess.run([sys.executable, "-c", code + "\nimport os\n"
                           "print(os.environ.get('THP_MEM_ALLOC_ENABLE'))"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_huge_pages_are_asked_for_before_torch_is_imported_only():
    import os

    env = {key: value for key, value in os.environ.items()
           if key != "THP_MEM_ALLOC_ENABLE"}
    assert _huge_pages_setting("import torch_nri", env) == "1"
    # Imported after torch, the setting would be read too late: left alone.
    assert _huge_pages_setting("import torch, torch_nri", env) == "None"
    # A value of the user's own stays.
    assert _huge_pages_setting("import torch_nri", {**env, "THP_MEM_ALLOC_ENABLE": "0"}) == "0"
