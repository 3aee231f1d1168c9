"""The memory budget: a setting wins, else the machine's memory less a reserve, never negative."""

from __future__ import annotations

import stat
from decimal import Decimal

import psutil
import pytest

from hashiru.economy import resources
from hashiru.economy.resources import GIB, gib, memory_budget_bytes


@pytest.fixture(autouse=True)
def _fresh_gpu_cache():
    cached = resources.gpu_memory_bytes  # a test may swap the module attribute for a stub
    cached.cache_clear()
    yield
    cached.cache_clear()


def _fake_nvidia_smi(tmp_path, monkeypatch, script: str) -> None:
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tool.parent))


def test_memory_gib_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "machine_memory_bytes", lambda: 1)
    assert memory_budget_bytes(Decimal("1.5"), Decimal("2")) == 3 * GIB // 2


def test_machine_memory_less_the_reserve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "machine_memory_bytes", lambda: 10 * GIB)
    assert memory_budget_bytes(None, Decimal("2")) == 8 * GIB  # default reserve: 2 GiB
    assert memory_budget_bytes(None, Decimal("0.5")) == 19 * GIB // 2


def test_budget_is_never_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "machine_memory_bytes", lambda: GIB)
    assert memory_budget_bytes(None, Decimal("4")) == 0


def test_machine_memory_is_ram_plus_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "gpu_memory_bytes", lambda: 5 * GIB)
    assert resources.machine_memory_bytes() == psutil.virtual_memory().total + 5 * GIB


def test_gpu_memory_sums_every_gpu_nvidia_smi_lists(tmp_path, monkeypatch) -> None:
    _fake_nvidia_smi(tmp_path, monkeypatch, 'printf "1024\\n2048\\n"')
    assert resources.gpu_memory_bytes() == 3 * GIB


@pytest.mark.parametrize("script", ["exit 9", "echo 'No devices were found'"])
def test_gpu_memory_is_zero_when_nvidia_smi_fails(tmp_path, monkeypatch, script: str) -> None:
    _fake_nvidia_smi(tmp_path, monkeypatch, script)
    assert resources.gpu_memory_bytes() == 0


def test_gpu_memory_is_zero_without_nvidia_smi(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resources.gpu_memory_bytes() == 0


def test_gib_rounds_to_two_places() -> None:
    assert gib(3 * GIB // 2) == Decimal("1.50")
    assert gib(0) == Decimal("0.00")
    assert gib(8 * 10**9) == Decimal("7.45")
