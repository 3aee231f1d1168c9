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


def test_endpoints_and_ollama_hosts_from_the_issues_own_toml(tmp_path: Path) -> None:
    (tmp_path / "hashiru.toml").write_text(
        'ollama_hosts = ["gpu-a", { url = "http://gpu-b:11434/", memory_gib = 24 }]\n'
        "[endpoints.cluster]\n"
        'base_url = "http://gpu-head:8000/v1"\n'
        'api_key_env = "CLUSTER_KEY"\n'
        "local = true\n"
        "memory_gib = 80\n"
        "[endpoints.router]\n"
        'base_url = "https://example-gateway/api/v1"\n'
        'api_key_env = "ROUTER_KEY"\n'
        'prices = { "some/model" = { input_per_mtok = 0.2, output_per_mtok = 0.6 } }\n'
    )
    settings = Settings.load(environ={"CLUSTER_KEY": "c-secret"}, home=tmp_path)
    assert [host.url for host in settings.pool] == ["http://gpu-a:11434", "http://gpu-b:11434"]
    assert settings.host_memory_bytes == {"http://gpu-b:11434": 24 * 2**30, "cluster": 80 * 2**30}
    cluster, router = settings.endpoints["cluster"], settings.endpoints["router"]
    assert cluster.api_key is not None and cluster.api_key.get_secret_value() == "c-secret"
    assert router.api_key is None  # ROUTER_KEY is not set
    assert str(router.prices["some/model"].output_per_mtok) == "0.6"
    assert "c-secret" not in repr(settings)


def test_one_ollama_host_is_the_pool_and_a_list_comes_from_the_environment(tmp_path) -> None:
    assert [h.url for h in Settings.load(environ={}, home=tmp_path).pool] == [
        "http://127.0.0.1:11434"
    ]
    environ = {"HASHIRU_OLLAMA_HOSTS": "a, b:8080", "OLLAMA_HOST": "ignored:1"}
    assert [h.url for h in Settings.load(environ=environ, home=tmp_path).pool] == [
        "http://a:11434",
        "http://b:8080",
    ]
    with pytest.raises(ConfigError, match="a host is listed twice"):
        Settings.load(environ={"HASHIRU_OLLAMA_HOSTS": "a,http://a:11434"}, home=tmp_path)
    with pytest.raises(ConfigError, match="ollama_pull"):
        Settings.load(environ={"HASHIRU_OLLAMA_PULL": "sometimes"}, home=tmp_path)
