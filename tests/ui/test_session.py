"""A session's settings are its own; the workspace behind them is shared."""

from __future__ import annotations

import pytest

from hashiru.errors import ConfigError
from hashiru.providers.scripted import Script
from hashiru.settings import SWITCHES
from hashiru.ui.session import MODE_LABELS, MODES, Sessions
from tests.ui.conftest import ORIGINAL_MODES


def test_modes_are_the_original_names_of_every_switch():
    assert list(MODES) == ORIGINAL_MODES
    assert set(MODES.values()) == {f"enable_{switch}" for switch in SWITCHES}
    assert MODE_LABELS["ENABLE_TOOL_CREATION"] == "Tool creation"


async def test_sessions_have_their_own_settings_over_one_workspace(make_hashiru):
    workspace = make_hashiru({"ceo": Script([{"text": "hi"}])}, enable_memory=False)
    sessions = Sessions(workspace)
    a, b = sessions.get("a"), sessions.get("b")
    a.set_modes(["ENABLE_LOCAL_AGENTS"])
    b.configure(max_steps=3)

    assert a.modes() == ["ENABLE_LOCAL_AGENTS"]
    assert not a.policy.enable_tool_invocation
    assert b.policy.enable_tool_invocation and b.policy.max_steps == 3
    assert not workspace.policy.enable_memory and workspace.policy.max_steps == 12
    assert a.hashiru is b.hashiru is workspace  # one ledger, roster, registry and sandbox
    assert sessions.get("a") is a
    sessions.drop("a")
    assert sessions.get("a") is not a


async def test_a_bad_setting_is_refused_and_changes_nothing(make_hashiru):
    session = Sessions(make_hashiru({"ceo": Script([{"text": "hi"}])})).get("s")
    session.configure(max_steps=5)
    with pytest.raises(ConfigError, match="max_steps"):
        session.configure(max_steps=0)
    with pytest.raises(ConfigError, match="Unknown mode"):
        session.set_modes(["ENABLE_MEMORY", "ENABLE_TELEPATHY"])
    assert session.policy.max_steps == 5
    assert len(session.modes()) == 8


async def test_sessions_with_other_policies_share_one_workspace(make_hashiru, tmp_path):
    workspace = make_hashiru({"ceo": Script([{"text": "hi"}])}, memory_embedding="hash")
    sessions = Sessions(workspace)
    one, two = sessions.get("one"), sessions.get("two")
    one.configure(max_steps=2)
    assert (one.policy.max_steps, two.policy.max_steps) == (2, workspace.policy.max_steps)
    assert one.hashiru.memory is two.hashiru.memory is workspace.memory
    assert one.hashiru.ledger is two.hashiru.ledger
