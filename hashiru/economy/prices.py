"""What a model call costs, in exact Decimal USD, so the budget can charge it.

Prices come from the user's `[prices."provider:model"]` tables in hashiru.toml first, then from
the price data bundled with the installed `genai-prices` package. Only that bundled snapshot is
read: genai-prices fetches newer data only when its `UpdatePrices` is started, which HASHIRU
never does, so pricing works offline and gives the same answer on every run of one install.

A model neither source knows has no price (`None`), and unknown is never free: charging it
raises ConfigError telling the user what to add to hashiru.toml. Local backends cost machine
time, not tokens (`local_cost`). Every price, override or bundled, goes through genai-prices'
own calculation, so cached tokens, cache writes and prompt-size tiers are charged one way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version

import genai_prices
from genai_prices import types as gp
from genai_prices.data_snapshot import get_snapshot

from hashiru.errors import ConfigError
from hashiru.messages import Usage
from hashiru.settings import PriceOverride, Settings

LOCAL_PROVIDERS = frozenset({"ollama", "embedded", "scripted"})
"""Backends that run on this machine: their calls cost time (`local_cost`), not tokens."""

_GENAI_PROVIDER_IDS = {"gemini": "google", "anthropic": "anthropic", "openai": "openai"}
GENAI_PRICES_SOURCE = f"genai-prices {version('genai-prices')}"
OVERRIDE_SOURCE = "hashiru.toml"
LOCAL_SOURCE = "local"
_ZERO = Decimal(0)


@dataclass(frozen=True)
class ModelPrice:
    """A model's prices in USD per million tokens, and where they came from.

    A cache price of None means the provider does not price those tokens apart: they are
    charged as ordinary input. `tiered` means the rates rise above a prompt-size threshold;
    the figures here are the base rates and `PriceBook.cost` applies the tiers.
    """

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None
    cache_write_per_mtok: Decimal | None
    source: str
    tiered: bool = False


class PriceBook:
    """Prices and costs of model calls: the user's overrides, then genai-prices' bundled data;
    local calls at `local_usd_per_hour`."""

    def __init__(
        self,
        overrides: Mapping[str, PriceOverride] | None = None,
        local_usd_per_hour: Decimal = _ZERO,
        local_providers: Collection[str] = LOCAL_PROVIDERS,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.local_usd_per_hour = local_usd_per_hour
        self.local_providers = frozenset(local_providers)

    @classmethod
    def from_settings(cls, settings: Settings) -> PriceBook:
        """The `[prices]` overrides and each cloud endpoint's `prices`; local endpoints are
        charged by time like the other local backends."""
        endpoints = settings.endpoints.items()
        overrides = {
            **{f"{name}:{model}": p for name, e in endpoints for model, p in e.prices.items()},
            **settings.prices,
        }
        local = {*LOCAL_PROVIDERS, *(name for name, e in endpoints if e.local)}
        return cls(overrides, settings.local_usd_per_hour, local)

    def is_local(self, provider: str) -> bool:
        return provider in self.local_providers

    def price(self, provider: str, model: str) -> ModelPrice | None:
        """The model's price, or None when nobody knows it (which is not the same as free).

        Order: the user's override for "provider:model", then zero for local backends (they
        are charged by time), then genai-prices' bundled data.
        """
        if override := self.overrides.get(f"{provider}:{model}"):
            return ModelPrice(
                input_per_mtok=override.input_per_mtok,
                output_per_mtok=override.output_per_mtok,
                cache_read_per_mtok=override.cache_read_per_mtok,
                cache_write_per_mtok=override.cache_write_per_mtok,
                source=OVERRIDE_SOURCE,
            )
        if self.is_local(provider):
            return ModelPrice(_ZERO, _ZERO, None, None, LOCAL_SOURCE)
        found = _bundled_price(provider, model)
        if found is None:
            return None
        rates = {key: _base_rate(getattr(found, key)) for key in _PRICE_KEYS}
        if rates["input_mtok"] is None or rates["output_mtok"] is None:
            return None  # listed without token prices: not something we can charge for
        return ModelPrice(
            input_per_mtok=rates["input_mtok"],
            output_per_mtok=rates["output_mtok"],
            cache_read_per_mtok=rates["cache_read_mtok"],
            cache_write_per_mtok=rates["cache_write_mtok"],
            source=GENAI_PRICES_SOURCE,
            tiered=any(isinstance(getattr(found, key), gp.TieredPrices) for key in _PRICE_KEYS),
        )

    def require(self, provider: str, model: str) -> ModelPrice:
        """The model's price, or ConfigError saying what to add to hashiru.toml (before a hire,
        so an unpriceable model is refused up front rather than at its first bill)."""
        price = self.price(provider, model)
        if price is None:
            raise ConfigError(_unknown_price_message(provider, model))
        return price

    def cost(self, provider: str, model: str, usage: Usage) -> Decimal:
        """Exact USD for one usage: uncached input, cache reads, cache writes and output, each
        at its own price (and tier). Raises ConfigError when the model's price is unknown."""
        price = self.require(provider, model)
        if price.source == LOCAL_SOURCE:
            return _ZERO
        gp_usage = to_genai_usage(usage)
        if price.source == OVERRIDE_SOURCE:
            return _override_model_price(price).calc_price(gp_usage)["total_price"]
        return genai_prices.calc_price(
            gp_usage, _model_ref(model), provider_id=_genai_provider_id(provider)
        ).total_price

    def worst_case(self, provider: str, model: str, input_tokens: int, max_tokens: int) -> Decimal:
        """The most a call sending `input_tokens` and answering with at most `max_tokens` can
        cost, for reserving budget before the call.

        Cost is linear in how the prompt splits into uncached, cache-read and cache-written
        tokens (the tier depends only on the total), so the maximum is one of the three pure
        splits; cache writes can cost more than plain input (Anthropic: 1.25x).
        """
        whole = Usage(input_tokens=input_tokens, output_tokens=max_tokens)
        splits = (
            whole,
            whole.model_copy(update={"cache_read_tokens": input_tokens}),
            whole.model_copy(update={"cache_write_tokens": input_tokens}),
        )
        return max(self.cost(provider, model, usage) for usage in splits)

    def local_cost(self, seconds: float) -> Decimal:
        """What `seconds` of a local model's time cost at `local_usd_per_hour`."""
        return self.local_usd_per_hour * Decimal(str(max(seconds, 0.0))) / 3600

    def describe(self, provider: str, model: str) -> dict[str, str | bool]:
        """A compact, JSON-ready price for listings: rates as strings, or "unknown"."""
        price = self.price(provider, model)
        if price is None:
            return {"price": "unknown"}
        if price.source == LOCAL_SOURCE:
            return {"price": "local", "usd_per_hour": _fmt(self.local_usd_per_hour)}
        shown: dict[str, str | bool] = {
            "input_per_mtok": _fmt(price.input_per_mtok),
            "output_per_mtok": _fmt(price.output_per_mtok),
        }
        if price.cache_read_per_mtok is not None:
            shown["cache_read_per_mtok"] = _fmt(price.cache_read_per_mtok)
        if price.cache_write_per_mtok is not None:
            shown["cache_write_per_mtok"] = _fmt(price.cache_write_per_mtok)
        if price.tiered:
            shown["tiered"] = True
        shown["source"] = price.source
        return shown


_PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")


def to_genai_usage(usage: Usage) -> genai_prices.Usage:
    """Our Usage as genai-prices'. Both count cached tokens inside input_tokens (genai-prices
    charges `input_tokens - cache_read_tokens - cache_write_tokens` at the input rate), so the
    fields map one to one. A provider that reported more cached than total tokens would make
    genai-prices refuse the usage; the total is raised to cover them instead, which charges
    every reported token rather than failing to charge at all.
    """
    cache_read = max(usage.cache_read_tokens, 0)
    cache_write = max(usage.cache_write_tokens, 0)
    return genai_prices.Usage(
        input_tokens=max(usage.input_tokens, cache_read + cache_write),
        output_tokens=max(usage.output_tokens, 0),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _bundled_price(provider: str, model: str) -> gp.ModelPrice | None:
    """The model's current prices from genai-prices' bundled snapshot, None if not listed."""
    try:
        _, info = get_snapshot().find_provider_model(
            _model_ref(model), None, _genai_provider_id(provider), None
        )
    except LookupError:  # how genai-prices says "no such provider or model"
        return None
    return info.get_prices(datetime.now(UTC))


def _genai_provider_id(provider: str) -> str:
    return _GENAI_PROVIDER_IDS.get(provider, provider)


def _model_ref(model: str) -> str:
    return model.removeprefix("models/")  # Gemini's SDKs sometimes name models this way


def _base_rate(value: Decimal | gp.TieredPrices | None) -> Decimal | None:
    return value.base if isinstance(value, gp.TieredPrices) else value


def _override_model_price(price: ModelPrice) -> gp.ModelPrice:
    rates = {
        "input_mtok": price.input_per_mtok,
        "output_mtok": price.output_per_mtok,
        "cache_read_mtok": price.cache_read_per_mtok,
        "cache_write_mtok": price.cache_write_per_mtok,
    }
    return gp.ModelPrice(**{key: rate for key, rate in rates.items() if rate is not None})


def _fmt(amount: Decimal) -> str:
    """At least two decimals ("0.30", "3.00"), more only where the price has them ("0.025")."""
    if amount == amount.quantize(Decimal("0.01")):
        return f"{amount:.2f}"
    return f"{amount.normalize():f}"


def _unknown_price_message(provider: str, model: str) -> str:
    return (
        f"No price is known for '{provider}:{model}' ({GENAI_PRICES_SOURCE} does not list it), "
        "and HASHIRU will not treat an unknown model as free. Add its published prices, in USD "
        "per million tokens, to hashiru.toml, for example:\n\n"
        f'[prices."{provider}:{model}"]\n'
        "input_per_mtok = 0.30\n"
        "output_per_mtok = 2.50\n"
        "# optional: cache_read_per_mtok = 0.03, cache_write_per_mtok = 0.375"
    )
