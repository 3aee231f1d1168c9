"""How much memory local models may take: the resource half of HASHIRU's economy.

Hiring a local model costs memory rather than money, so the CEO needs a memory budget. By
default it is everything the machine has (RAM plus GPU memory) less a reserve kept for the
operating system and HASHIRU itself; `memory_gib` in hashiru.toml sets it outright, for a
shared machine or a test. GiB here is 2**30 bytes, as RAM and model files are measured.
"""

from __future__ import annotations

import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

import psutil

from hashiru.settings import GIB

_MIB = 2**20
_NVIDIA_SMI_TIMEOUT_S = 2.0


def machine_memory_bytes() -> int:
    """All memory a local model could live in: RAM plus whatever GPU memory can be read.

    GPU memory counts because llama.cpp and Ollama offload layers to it, so a GPU box can
    hold more than its RAM alone. On unified-memory machines (Apple) the RAM is the GPU's.
    """
    return int(psutil.virtual_memory().total) + gpu_memory_bytes()


@cache
def gpu_memory_bytes() -> int:
    """Total memory of the NVIDIA GPUs nvidia-smi reports, or 0 when there is none to ask.

    Asked once per process, with a short timeout: a GPU's size does not change while we run,
    and a hung driver must not stall start-up. No new dependency: nvidia-smi ships with the
    driver. Other GPUs (AMD, Intel) count as 0, which errs on the side of hiring less.
    """
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return 0
    try:
        done = subprocess.run(
            [binary, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=_NVIDIA_SMI_TIMEOUT_S,
            check=True,
        )
        return sum(int(line.strip()) for line in done.stdout.splitlines() if line.strip()) * _MIB
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0  # no driver, a hung or failing tool, or output we do not understand


def memory_budget_bytes(memory_gib: Decimal | None, reserve_gib: Decimal) -> int:
    """Bytes local models may use: `memory_gib` if set, else the machine's memory less
    `reserve_gib`, never below 0 (a small machine gets no local hires, not an error)."""
    if memory_gib is not None:
        return int(memory_gib * GIB)
    return max(machine_memory_bytes() - int(reserve_gib * GIB), 0)


def gib(num_bytes: int) -> Decimal:
    """Bytes as GiB rounded to 2 places, for messages and listings ("7.45 GiB")."""
    return (Decimal(num_bytes) / GIB).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
