"""The hosts benchmark still runs (tiny sizes), against its own servers on 127.0.0.1, so its
figures can be trusted: every hire checked, every token counted, every figure printed."""

from __future__ import annotations

import asyncio

import pytest
from rich.console import Console

from bench.perf.hosts import (
    HIRES_PER_REPEAT,
    METERED,
    SDK,
    Figures,
    hosts_table,
    main,
    make_pool,
    measure,
    overhead_table,
    summary,
    tokens_table,
)

HOSTS, MODELS, REPEAT, TOKENS = 2, 4, 2, 20


@pytest.fixture(scope="module")
def figures() -> Figures:
    return asyncio.run(measure(HOSTS, MODELS, REPEAT, TOKENS))


def test_the_pool_spreads_models_over_the_hosts_with_overlap() -> None:
    pool = make_pool(hosts=3, models=50)
    assert len(pool.models) == 50
    on = [sum(name in host for host in pool.served) for name in pool.models]
    assert min(on) == 1 and max(on) == 3
    assert len(set(pool.models.values())) > 10  # sizes varied


def test_every_hire_is_placed_on_a_host_serving_its_model_within_budget(
    figures: Figures,
) -> None:
    hires = HIRES_PER_REPEAT * REPEAT
    assert figures.company.violations == []
    assert sum(figures.company.placed.values()) == hires == len(figures.company.hire)
    assert set(figures.company.placed) <= set(figures.urls)
    # 6 hires over 4 models: some join a model already loaded on their host
    assert figures.company.shared > 0
    assert len(figures.company.fire) == hires  # all fired at the end
    assert sum(figures.ledger.placed.values()) == REPEAT


def test_every_way_of_reading_the_stream_sees_every_token(figures: Figures) -> None:
    assert len(figures.stream.ways) == 4
    for taken in figures.stream.ways.values():
        assert len(taken) == REPEAT
        for sample in taken:
            assert sample.tokens == TOKENS
            assert 0 < sample.first <= sample.last <= sample.done
    assert figures.stream.tokens_booked == TOKENS
    assert figures.stream.usd_per_request > 0


def test_the_tables_and_summary_are_whole_at_80_columns(figures: Figures) -> None:
    console = Console(width=80, record=True)
    console.print(hosts_table(figures), tokens_table(figures), overhead_table(figures))
    text = console.export_text()
    assert "…" not in text
    for figure in ("merged list_models", "plain httpx", "ledger.hire alone", "hires on host 2"):
        assert figure in text
    assert "every hire" in text
    for way in ("httpx, SSE lines", SDK, METERED):
        assert way in text
    assert f"booked {TOKENS} output tokens" in text.replace("\n", " ")
    assert "tokens/s" in summary(figures)


def test_a_reply_needs_two_tokens_for_a_rate(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--tokens", "1"])
    assert "must be at least 2" in capsys.readouterr().err
