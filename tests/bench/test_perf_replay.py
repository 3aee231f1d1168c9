"""The replay benchmark checks what it times: the replay's answer is the recording's, at $0."""

from __future__ import annotations

from bench.perf import replay


async def test_a_short_run_replays_to_the_same_answer_faster() -> None:
    originals, replays = await replay.measure(steps=4, latency=0.05, repeat=1)
    assert originals[0] >= 4 * 0.05  # four replies of 50 ms each
    assert replays[0] < originals[0]
