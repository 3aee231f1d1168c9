"""A process that saves turns as fast as it can: `python -m tests.conversations.writer PATH TAG N`.

Writes N conversations of three turns each (N=0: forever, one conversation after another),
each turn big enough that a write spans many pages. Prints "ready" once the store is open and
"done" at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hashiru.conversations import ConversationStore
from tests.conversations.conftest import turns


def main(path: str, tag: str, count: int) -> None:
    store = ConversationStore(Path(path))
    print("ready", flush=True)
    n = 0
    while count == 0 or n < count:
        conversation = store.new(source="cli")
        conversation.title = f"{tag} {n}"
        for number in range(1, 4):
            store.save_turns(conversation, turns(1, start=number, words=f"{tag} " + "x" * 20_000))
        n += 1
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
