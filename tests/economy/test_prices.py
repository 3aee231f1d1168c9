"""PriceBook: exact Decimal costs from genai-prices' bundled data, overrides, unknown models.

Expected costs are worked by hand from the per-million prices in genai-prices' bundled data:
gemini-2.5-flash (google): input 0.30, output 2.50, cache read 0.03 (no cache-write price);
claude-haiku-4-5 (anthropic): input 1, output 5, cache read 0.10, cache write 1.25;
gemini-2.5-pro (google): input 1.25 / output 10, rising to 2.50 / 15 above 200k prompt tokens.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib.metadata import version

import pytest

from hashiru.economy.prices import ModelPrice, PriceBook, to_genai_usage
from hashiru.errors import ConfigError
from hashiru.messages import Usage
from hashiru.settings import PriceOverride, Settings

SOURCE = f"genai-prices {version('genai-prices')}"


@pytest.fixture
def book() -> PriceBook:
    return PriceBook()


def test_bundled_prices_are_read_with_their_source(book: PriceBook) -> None:
    assert book.price("gemini", "gemini-2.5-flash") == ModelPrice(
        Decimal("0.3"), Decimal("2.5"), Decimal("0.03"), None, SOURCE
    )
    assert book.price("anthropic", "claude-haiku-4-5") == ModelPrice(
        Decimal("1"), Decimal("5"), Decimal("0.1"), Decimal("1.25"), SOURCE
    )
    assert SOURCE.startswith("genai-prices 0.")


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash-lite"),
        ("gemini", "gemini-2.0-flash"),
        ("gemini", "gemini-2.5-pro"),
        ("gemini", "models/gemini-2.5-flash"),
        ("anthropic", "claude-sonnet-4-6"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-haiku-4-5-20251001"),
        ("anthropic", "claude-opus-4-1"),
    ],
)
def test_current_cloud_models_resolve(book: PriceBook, provider: str, model: str) -> None:
    price = book.price(provider, model)
    assert price is not None
    assert price.source == SOURCE
    assert price.input_per_mtok > 0
    assert price.output_per_mtok > price.input_per_mtok


def test_gemini_cost_charges_cached_tokens_once_at_the_cache_rate(book: PriceBook) -> None:
    usage = Usage(input_tokens=10_000, cache_read_tokens=4_000, output_tokens=500)
    # 6,000 uncached x 0.30 + 4,000 cached x 0.03 + 500 out x 2.50 = 1,800 + 120 + 1,250 per M
    assert book.cost("gemini", "gemini-2.5-flash", usage) == Decimal("0.00317")


def test_anthropic_cost_charges_reads_and_writes_apart(book: PriceBook) -> None:
    usage = Usage(
        input_tokens=10_000, cache_read_tokens=4_000, cache_write_tokens=2_000, output_tokens=500
    )
    # 4,000 x 1 + 4,000 x 0.10 + 2,000 x 1.25 + 500 x 5 = 4,000 + 400 + 2,500 + 2,500 per M
    assert book.cost("anthropic", "claude-haiku-4-5", usage) == Decimal("0.0094")


def test_usage_maps_one_to_one_because_both_count_cache_inside_input() -> None:
    ours = Usage(input_tokens=10, output_tokens=3, cache_read_tokens=4, cache_write_tokens=2)
    theirs = to_genai_usage(ours)
    assert (theirs.input_tokens, theirs.output_tokens) == (10, 3)
    assert (theirs.cache_read_tokens, theirs.cache_write_tokens) == (4, 2)


def test_more_cached_than_total_is_charged_not_refused(book: PriceBook) -> None:
    usage = Usage(input_tokens=1_000, cache_read_tokens=1_000, cache_write_tokens=1_000)
    # the total becomes 2,000: 1,000 x 0.10 + 1,000 x 1.25 per M
    assert book.cost("anthropic", "claude-haiku-4-5", usage) == Decimal("0.00135")


def test_prompt_size_tiers_apply(book: PriceBook) -> None:
    small = Usage(input_tokens=100_000, output_tokens=1_000)
    large = Usage(input_tokens=300_000, output_tokens=1_000)
    assert book.cost("gemini", "gemini-2.5-pro", small) == Decimal("0.135")  # 1.25 / 10
    assert book.cost("gemini", "gemini-2.5-pro", large) == Decimal("0.765")  # 2.50 / 15
    assert book.worst_case("gemini", "gemini-2.5-pro", 300_000, 1_000) == Decimal("0.765")
    assert book.describe("gemini", "gemini-2.5-pro")["tiered"] is True


def test_override_beats_genai_prices() -> None:
    override = PriceOverride(input_per_mtok=Decimal("1"), output_per_mtok=Decimal("2"))
    book = PriceBook({"gemini:gemini-2.5-flash": override})
    price = book.require("gemini", "gemini-2.5-flash")
    assert price == ModelPrice(Decimal("1"), Decimal("2"), None, None, "hashiru.toml")
    usage = Usage(input_tokens=10_000, cache_read_tokens=4_000, output_tokens=500)
    # no cache price given: cached tokens are plain input, 10,000 x 1 + 500 x 2 per M
    assert book.cost("gemini", "gemini-2.5-flash", usage) == Decimal("0.011")


def test_override_prices_an_unknown_model_with_its_cache_rates() -> None:
    override = PriceOverride(
        input_per_mtok=Decimal("1"),
        output_per_mtok=Decimal("4"),
        cache_read_per_mtok=Decimal("0.5"),
        cache_write_per_mtok=Decimal("2"),
    )
    book = PriceBook({"anthropic:claude-next": override})
    usage = Usage(
        input_tokens=10_000, cache_read_tokens=4_000, cache_write_tokens=1_000, output_tokens=500
    )
    # 5,000 x 1 + 4,000 x 0.5 + 1,000 x 2 + 500 x 4 = 5,000 + 2,000 + 2,000 + 2,000 per M
    assert book.cost("anthropic", "claude-next", usage) == Decimal("0.011")
    assert book.describe("anthropic", "claude-next") == {
        "input_per_mtok": "1.00",
        "output_per_mtok": "4.00",
        "cache_read_per_mtok": "0.50",
        "cache_write_per_mtok": "2.00",
        "source": "hashiru.toml",
    }


@pytest.mark.parametrize(
    ("provider", "model"),
    [("gemini", "gemini-nonsense-9"), ("anthropic", "claude-nonsense"), ("nope", "x")],
)
def test_unknown_model_has_no_price_and_is_never_free(
    book: PriceBook, provider: str, model: str
) -> None:
    assert book.price(provider, model) is None
    assert book.describe(provider, model) == {"price": "unknown"}
    with pytest.raises(ConfigError, match=r"hashiru\.toml"):
        book.cost(provider, model, Usage(input_tokens=1, output_tokens=1))
    with pytest.raises(ConfigError, match=r"hashiru\.toml"):
        book.require(provider, model)
    with pytest.raises(ConfigError):
        book.worst_case(provider, model, 1, 1)


def test_unknown_price_message_gives_a_snippet_that_loads(book: PriceBook, tmp_path) -> None:
    with pytest.raises(ConfigError) as caught:
        book.cost("gemini", "gemini-nonsense-9", Usage(input_tokens=1))
    message = str(caught.value)
    assert "gemini:gemini-nonsense-9" in message
    snippet = message[message.index("[prices.") :]
    (tmp_path / "hashiru.toml").write_text(snippet, encoding="utf-8")
    loaded = Settings.load(environ={}, home=tmp_path)
    assert PriceBook.from_settings(loaded).price("gemini", "gemini-nonsense-9") is not None


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        # all 10,000 uncached x 0.30 + 1,000 x 2.50 per M (no cache-write price at Gemini)
        ("gemini", "gemini-2.5-flash", Decimal("0.0055")),
        # all 10,000 written to the cache x 1.25 (dearer than input) + 1,000 x 5 per M
        ("anthropic", "claude-haiku-4-5", Decimal("0.0175")),
    ],
)
def test_worst_case_bounds_every_usage(
    book: PriceBook, provider: str, model: str, expected: Decimal
) -> None:
    worst = book.worst_case(provider, model, 10_000, 1_000)
    assert worst == expected
    for read in (0, 2_500, 10_000):
        for write in (0, 2_500, 10_000 - read):
            for output in (0, 999, 1_000):
                usage = Usage(
                    input_tokens=10_000,
                    cache_read_tokens=read,
                    cache_write_tokens=write,
                    output_tokens=output,
                )
                assert book.cost(provider, model, usage) <= worst


def test_local_models_cost_time_not_tokens() -> None:
    book = PriceBook(local_usd_per_hour=Decimal("0.36"))
    assert book.is_local("ollama") and not book.is_local("gemini")
    price = book.price("ollama", "qwen3:8b")
    assert price == ModelPrice(Decimal(0), Decimal(0), None, None, "local")
    assert book.cost("ollama", "qwen3:8b", Usage(input_tokens=10**6, output_tokens=10**6)) == 0
    assert book.worst_case("embedded", "smollm2", 10**6, 10**6) == 0
    assert book.local_cost(100) == Decimal("0.01")
    assert book.local_cost(0) == 0
    assert PriceBook().local_cost(3600) == 0
    assert book.describe("scripted", "echo") == {"price": "local", "usd_per_hour": "0.36"}


def test_describe_is_compact_json(book: PriceBook) -> None:
    shown = book.describe("gemini", "gemini-2.5-flash")
    assert shown == {
        "input_per_mtok": "0.30",
        "output_per_mtok": "2.50",
        "cache_read_per_mtok": "0.03",
        "source": SOURCE,
    }
    json.dumps(shown)
    assert book.describe("gemini", "gemini-2.0-flash")["cache_read_per_mtok"] == "0.025"
