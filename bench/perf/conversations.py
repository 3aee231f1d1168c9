"""Print the conversation store's costs: listing, opening a long conversation, saving a turn.

    python -m bench.perf.conversations [--conversations 10000] [--turns 1000]

Everything runs in a temporary HASHIRU_HOME on scripted models, so the figures are the
store's and the redraw's alone (SQLite in WAL mode on the local disk). Public API only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hashiru import (
    ConversationStore,
    Hashiru,
    Message,
    Script,
    ScriptedProvider,
    Settings,
    Turn,
    conversation_markdown,
    redraw_conversation,
)

REPEATS = 20


def turn(n: int) -> Turn:
    """A turn the size of a real one: a question, a tool step and a paragraph of answer."""
    answer = f"Answer {n}: " + "a sentence of the CEO's answer. " * 20
    call = {"call_id": f"c{n}", "name": "ask_agent", "arguments": {"name": "poet", "prompt": "go"}}
    events = [
        {"kind": "tool_call_started", **call},
        {"kind": "tool_call_finished", **call, "ok": True, "result": "fine", "seconds": 0.5},
        {"kind": "text_delta", "text": answer},
        {"kind": "answer", "text": answer},
    ]
    messages = [Message.user(f"question {n}"), Message.assistant(answer)]
    return Turn(run_id=f"{n:012x}", task=f"question {n}", messages=messages, events=events,
                answer=answer)  # fmt: skip


def timed(action: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float]:
    """Median and best seconds of `action` over `repeats` tries."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def ms(figures: tuple[float, float]) -> str:
    return f"{figures[0] * 1e3:,.1f} / {figures[1] * 1e3:,.1f} ms"


def workspace(home: Path) -> Hashiru:
    """A workspace whose CEO answers at once."""
    ceo = Script([{"text": "ok", "usage": {}}], repeat=True)
    settings = Settings.load(home=home, ceo_model="scripted:ceo", enable_memory=False)
    return Hashiru.from_settings(settings, [ScriptedProvider({"ceo": ceo})])


async def turn_costs(hashiru: Hashiru, turns: int) -> tuple[float, float]:
    """Median seconds of an instant one-step run without, then with, saving it as a turn."""
    conversation = hashiru.conversations.new(source="cli")
    plain, saved = [], []
    for n in range(turns):
        started = time.perf_counter()
        await hashiru.run(f"question {n}")
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        await hashiru.run(f"question {n}", conversation=conversation)
        saved.append(time.perf_counter() - started)
    return statistics.median(plain), statistics.median(saved)


def measure(conversations: int, turns: int) -> Table:
    with tempfile.TemporaryDirectory() as tmp:
        hashiru = workspace(Path(tmp))
        store: ConversationStore = hashiru.conversations
        started = time.perf_counter()
        for n in range(conversations - 1):
            short = store.new(source="app")
            store.save_turns(short, [turn(n)])
        long = store.new(source="cli")
        store.save_turns(long, [turn(n) for n in range(turns)])
        seeding = time.perf_counter() - started
        first_page = timed(hashiru.conversation_page)  # with each one's spend
        search = timed(lambda: store.page(query="question 77"))
        opened = timed(lambda: store.get(long.id), 5)
        drawn = timed(lambda: redraw_conversation(store.get(long.id)), 5)
        exported = timed(lambda: conversation_markdown(store.get(long.id)), 5)
        saving = timed(lambda: store.save_turns(long, [turn(turns)]))
        plain, with_turn = asyncio.run(turn_costs(hashiru, 50))
        asyncio.run(hashiru.aclose())
    table = Table("measure (median / best)", "value", title="HASHIRU conversation store")
    table.add_row(f"seeding {conversations:,} conversations", f"{seeding:,.1f} s")
    table.add_row(f"list, first page of {conversations:,} (with spend)", ms(first_page))
    table.add_row("search titles and text, first page", ms(search))
    table.add_row(f"open a conversation of {turns:,} turns", ms(opened))
    table.add_row("  and redraw its chat (the app)", ms(drawn))
    table.add_row("  and export it as Markdown", ms(exported))
    table.add_row(f"save one turn into it (turn {turns + 1:,}+)", ms(saving))
    table.add_row(
        "an instant run, plain / as a saved turn",
        f"{plain * 1e3:,.1f} / {with_turn * 1e3:,.1f} ms "
        f"(+{(with_turn - plain) * 1e3:,.1f} ms per turn)",
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=1_000)
    args = parser.parse_args()
    Console().print(measure(args.conversations, args.turns))


if __name__ == "__main__":
    main()
