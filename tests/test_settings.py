from pathlib import Path

import pytest

from hashiru.errors import ConfigError
from hashiru.settings import SWITCHES, Settings


def test_defaults_and_home_from_environment(tmp_path: Path) -> None:
    settings = Settings.load(environ={"HASHIRU_HOME": str(tmp_path)})
    assert settings.home == tmp_path
    assert settings.max_steps == 12
    assert all(settings.enabled(switch) for switch in SWITCHES)


def test_toml_then_environment_then_overrides(tmp_path: Path) -> None:
    (tmp_path / "hashiru.toml").write_text('max_steps = 5\nceo_model = "ollama:a"\n')
    environ = {"HASHIRU_HOME": str(tmp_path), "HASHIRU_CEO_MODEL": "ollama:b"}
    settings = Settings.load(environ=environ)
    assert (settings.max_steps, settings.ceo_model) == (5, "ollama:b")
    assert Settings.load(environ=environ, ceo_model="ollama:c").ceo_model == "ollama:c"


def test_sdk_environment_names_are_honoured(tmp_path: Path) -> None:
    environ = {
        "HASHIRU_HOME": str(tmp_path),
        "GOOGLE_API_KEY": "g-secret",
        "ANTHROPIC_API_KEY": "a-secret",
        "OLLAMA_HOST": "http://127.0.0.1:1234",
        "HASHIRU_ENABLE_CLOUD_AGENTS": "false",
    }
    settings = Settings.load(environ=environ)
    assert settings.gemini_api_key.get_secret_value() == "g-secret"
    assert settings.ollama_host == "http://127.0.0.1:1234"
    assert not settings.enabled("cloud_agents")
    assert "secret" not in repr(settings)


def test_bad_value_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={"HASHIRU_HOME": str(tmp_path), "HASHIRU_MAX_STEPS": "many"})
    message = str(caught.value)
    assert "max_steps" in message and "HASHIRU_MAX_STEPS" in message and "\n" not in message


def test_unknown_or_broken_toml_is_reported(tmp_path: Path) -> None:
    (tmp_path / "hashiru.toml").write_text("max_step = 5\n")
    with pytest.raises(ConfigError, match="Unknown setting 'max_step'"):
        Settings.load(environ={"HASHIRU_HOME": str(tmp_path)})
    (tmp_path / "hashiru.toml").write_text("max_steps = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(environ={"HASHIRU_HOME": str(tmp_path)})


def test_a_bad_key_value_is_never_echoed(tmp_path: Path) -> None:
    (tmp_path / "hashiru.toml").write_text("anthropic_api_key = 12345\n")
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={"HASHIRU_HOME": str(tmp_path)})
    assert "12345" not in str(caught.value)


def test_a_bad_value_in_a_toml_table_names_the_file_not_an_environment_variable(tmp_path):
    (tmp_path / "hashiru.toml").write_text('[models."ollama:x"]\ncontext_tokens = 10\n')
    with pytest.raises(
        ConfigError, match=r"'models\.ollama:x\.context_tokens' \(in hashiru\.toml\)"
    ):
        Settings.load(environ={}, home=tmp_path)
