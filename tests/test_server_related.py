"""Which open documents a request takes as context, on a server with no model or client."""

from __future__ import annotations

from lsprotocol import types
from offline_server import request_at, server_with

ROOT = "/tmp/lsp_fim_related"


def test_every_open_document_the_current_one_names_is_related() -> None:
    """Each candidate is looked for in the current document, not in the one found before."""
    documents = {
        "shapes.py": "def area(s):\n    return s * s\n",
        "helpers.py": "def count(xs):\n    return len(xs)\n",
        "notes.py": "todo = []\n",
        "report.py": "import helpers\nimport shapes\n\nhelpers.",
    }
    server = server_with({f"{ROOT}/{name}": text for name, text in documents.items()}, ROOT)
    request = request_at(server, f"file://{ROOT}/report.py", types.Position(3, 8))
    assert request is not None
    assert [document.name for document in request.related] == ["helpers.py", "shapes.py"]
