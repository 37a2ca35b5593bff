"""A server with documents open and no model or client: for tests of what a request takes."""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace import Workspace

from lsp_fim.config import Settings
from lsp_fim.document_request import request_from
from lsp_fim.engine import CompletionRequest
from lsp_fim.server import FimServer


def server_with(documents: dict[str, str], root: str | None) -> FimServer:
    """``documents`` by absolute path, opened in that order, in a workspace at ``root``."""
    server = FimServer(Settings())
    server.protocol._workspace = Workspace(f"file://{root}" if root else None)
    for path, text in documents.items():
        uri = f"file://{path}"
        item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        server.workspace.put_text_document(item)
        server.recent_documents.touch(uri, 0)
    return server


def request_at(server: FimServer, uri: str, position: types.Position) -> CompletionRequest | None:
    """The request the server would run (its two steps, on one thread here)."""
    snapshot = server.document_snapshot(uri, position)
    return request_from(snapshot) if snapshot is not None else None
