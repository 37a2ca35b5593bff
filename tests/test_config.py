from lsp_fim.config import Settings, settings_from_wire


def test_camel_case_settings_apply() -> None:
    settings, problems = settings_from_wire(
        {"maxTokens": 64, "prefixTokens": 512, "scopeStop": False, "enabledLanguages": ["python"]}
    )
    assert problems == []
    assert settings.max_tokens == 64
    assert settings.prefix_tokens == 512
    assert settings.scope_stop is False
    assert settings.enabled_languages == ("python",)


def test_invalid_values_fall_back_to_defaults_and_are_reported() -> None:
    base = Settings(max_tokens=32)
    settings, problems = settings_from_wire({"maxTokens": -3, "threads": "many"}, base)
    assert settings.max_tokens == Settings().max_tokens
    assert settings.threads == Settings().threads
    assert len(problems) == 2
    assert any("maxTokens" in problem for problem in problems)


def test_unknown_keys_and_non_objects_are_reported() -> None:
    _, problems = settings_from_wire({"modle": "x"})
    assert problems == ["unknown setting 'modle' ignored"]
    settings, problems = settings_from_wire(["not", "an", "object"])  # type: ignore[arg-type]
    assert settings == Settings()
    assert problems


def test_unknown_backend_is_rejected() -> None:
    settings, problems = settings_from_wire({"backend": "home-made"})
    assert settings.backend == "llama-cpp"
    assert problems and "llama-server" in problems[0] and "openai" in problems[0]


def test_http_backend_settings() -> None:
    wire = {
        "backend": "openai",
        "backendUrl": "http://gpu-box:8000",
        "backendModel": "Qwen/Qwen2.5-Coder-7B",
        "apiKeyEnv": "VLLM_API_KEY",
    }
    settings, problems = settings_from_wire(wire)
    assert problems == []
    assert (settings.backend, settings.backend_url) == ("openai", "http://gpu-box:8000")
    assert (settings.backend_model, settings.api_key_env) == (
        "Qwen/Qwen2.5-Coder-7B",
        "VLLM_API_KEY",
    )


def test_enabled_languages() -> None:
    assert Settings().language_enabled("anything")
    only_go = Settings(enabled_languages=("go",))
    assert only_go.language_enabled("go")
    assert not only_go.language_enabled("python")
    assert not only_go.language_enabled(None)


def test_null_puts_a_setting_back_to_its_default() -> None:
    base = Settings(threads=1, model="/m.gguf", max_tokens=16, enabled_languages=("python",))
    wire = {"threads": None, "model": None, "maxTokens": None, "enabledLanguages": None}
    settings, problems = settings_from_wire(wire, base)
    assert problems == []
    assert settings == Settings()


def test_null_and_invalid_values_take_the_command_line_defaults() -> None:
    command_line = Settings(model="/from/flag.gguf", backend="openai")
    edited = Settings(model="/edited.gguf", backend="llama-server", max_tokens=16)
    settings, problems = settings_from_wire(
        {"model": None, "backend": "no-such-engine", "maxTokens": None}, edited, command_line
    )
    assert settings.model == "/from/flag.gguf" and settings.backend == "openai"
    assert settings.max_tokens == Settings().max_tokens
    assert len(problems) == 1
