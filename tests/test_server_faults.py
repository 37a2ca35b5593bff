"""Faults a user can fix are said clearly, and the server keeps answering (no model needed)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

MISSING_MODEL = "/nonexistent/lsp-fim-test-model.gguf"


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "lsp_fim", "serve"],
        server_env={**os.environ, "LSP_FIM_MODEL": MISSING_MODEL},
    )
)
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


async def test_missing_model_is_reported_and_requests_get_empty_answers(
    client: LanguageClient,
) -> None:
    async def error_shown() -> None:
        while not any(m.type == types.MessageType.Error for m in client.messages):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(error_shown(), 30)
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert errors and MISSING_MODEL in errors[0].message
    uri = "file:///tmp/lsp_fim_faults/a.py"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text="x = \n"
            )
        )
    )
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=4),
        )
    )
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 0


def test_a_truncated_model_file_is_refused_with_what_to_do(
    model_path: Path, tmp_path: Path
) -> None:
    """A GGUF cut short (an interrupted copy) passes the magic check and fails in llama.cpp;
    the user reads which file and how to replace it, not a traceback."""
    truncated = tmp_path / "truncated.gguf"
    with model_path.open("rb") as whole:
        truncated.write_bytes(whole.read(1 << 20))
    example = Path(__file__).parent.parent / "examples" / "norm.py"
    command = [sys.executable, "-m", "lsp_fim", "complete", str(example)]
    result = subprocess.run(
        [*command, "--line", "4", "--character", "8", "--model", str(truncated)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"could not load {truncated}" in result.stderr
    assert "lsp-fim model pull" in result.stderr
    assert "Traceback" not in result.stderr
