"""The inference engine over HTTP that the settings name: where it is, the key it wants, and
the module that speaks its API."""

from __future__ import annotations

import logging
import os

from lsp_fim.backends.base import BackendError, keep_secret
from lsp_fim.backends.http_backend import HttpBackend
from lsp_fim.backends.http_stream import EngineAddress
from lsp_fim.backends.llama_server import open_llama_server
from lsp_fim.backends.openai_completions import open_openai_completions
from lsp_fim.config import Settings
from lsp_fim.loopback import is_loopback
from lsp_fim.templates import FimTemplate

log = logging.getLogger(__name__)

# llama-server's own default address; OpenAI-compatible servers differ too much for one.
DEFAULT_LLAMA_SERVER_URL = "http://127.0.0.1:8080"


def open_http_backend(settings: Settings) -> tuple[HttpBackend, FimTemplate]:
    key = _api_key(settings.api_key_env)
    address = EngineAddress.parse(_url(settings), key)
    if key is not None:
        _refuse_plain_http_off_this_machine(address)
    if settings.backend == "llama-server":
        backend, template = open_llama_server(address, settings.template)
    else:
        backend, template = open_openai_completions(
            address, settings.backend_model, settings.template
        )
    log.info(
        "%s at %s; FIM template %s", settings.backend, address.url(backend.api.path), template.name
    )
    return backend, template


def _url(settings: Settings) -> str:
    if settings.backend_url:
        return settings.backend_url
    if settings.backend == "llama-server":
        return DEFAULT_LLAMA_SERVER_URL
    raise BackendError(
        f"backend {settings.backend!r} needs `backendUrl` (or --backend-url), the server's "
        "address, e.g. http://127.0.0.1:8000 for vLLM or http://127.0.0.1:11434 for Ollama"
    )


def _api_key(variable: str | None) -> str | None:
    """Keys come from the environment, never from settings, which live in editor config files
    that are shared and committed. No message shows a key from here on, whatever an engine
    echoes back."""
    if variable is None:
        return None
    key = os.environ.get(variable, "").strip()
    if not key:
        raise BackendError(
            f"`apiKeyEnv` names the environment variable {variable}, which is not set for "
            "lsp-fim: export it where the editor starts"
        )
    keep_secret(key)
    return key


def _refuse_plain_http_off_this_machine(address: EngineAddress) -> None:
    """Over plain http:// the key crosses the network readable by anyone on the way."""
    if address.scheme == "http" and not is_loopback(address.host):
        raise BackendError(
            f"backendUrl {address.url('')} is plain http:// to another machine, which would "
            "send the API key unencrypted: use an https:// address, or a loopback address "
            "(127.0.0.1, ::1, localhost) such as an SSH tunnel's"
        )

