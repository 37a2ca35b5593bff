"""Which open documents a request takes as context, on a server with no model or client."""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace import Workspace

from lsp_fim.config import Settings
from lsp_fim.document_request import request_from
from lsp_fim.engine import CompletionRequest
from lsp_fim.server import FimServer

ROOT = "/tmp/lsp_fim_related"


def server_with(documents: dict[str, str]) -> FimServer:
    server = FimServer(Settings())
    server.protocol._workspace = Workspace(f"file://{ROOT}")
    for name, text in documents.items():
        uri = f"file://{ROOT}/{name}"
        item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        server.workspace.put_text_document(item)
        server.recent_documents.touch(uri, 0)
    return server


def test_every_open_document_the_current_one_names_is_related() -> None:
    """Each candidate is looked for in the current document, not in the one found before."""
    server = server_with(
        {
            "shapes.py": "def area(s):\n    return s * s\n",
            "helpers.py": "def count(xs):\n    return len(xs)\n",
            "notes.py": "todo = []\n",
            "report.py": "import helpers\nimport shapes\n\nhelpers.",
        }
    )
    request = request_at(server, f"file://{ROOT}/report.py", types.Position(3, 8))
    assert request is not None
    assert [document.name for document in request.related] == ["helpers.py", "shapes.py"]


def request_at(server: FimServer, uri: str, position: types.Position) -> CompletionRequest | None:
    """The request the server would run (its two steps, on one thread here)."""
    snapshot = server.document_snapshot(uri, position)
    return request_from(snapshot) if snapshot is not None else None
