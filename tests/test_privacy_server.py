"""What the server puts in a CompletionRequest, the start of every prompt (each backend's, and
the work ahead): no denied file, no file outside the workspace, no secret line (no model)."""

from __future__ import annotations

from dataclasses import replace

from lsprotocol import types
from offline_server import request_at, server_with

ROOT = "/tmp/lsp_fim_privacy_server/ws"
OUTSIDE = "/tmp/lsp_fim_privacy_server/outside"
TOKEN = "ghp_" + "Leak" * 9
APP = (
    "import helpers\nimport secrets\nimport shapes\nimport notes\n"
    f'TOKEN = "{TOKEN}"\n'
    "x = helpers.count([])\n"
)


def documents() -> dict[str, str]:
    return {
        f"{OUTSIDE}/helpers.py": "def count(xs):\n    return len(xs)\n",
        f"{ROOT}/secrets.yaml": "key: LEAKYAML\n",
        f"{ROOT}/notes.py": "todo = []\n",
        f"{ROOT}/shapes.py": "PASSWORD = 'hunter22hunter'\ndef area(s):\n    return s * s\n",
        f"{ROOT}/app.py": APP,
    }


def test_context_only_from_allowed_files_in_the_workspace_with_secrets_redacted() -> None:
    server = server_with(documents(), ROOT)
    request = request_at(server, f"file://{ROOT}/app.py", types.Position(5, 4))
    assert request is not None
    assert [document.name for document in request.related] == ["shapes.py", "notes.py"]
    assert request.related[0].text.startswith("[redacted]\ndef area(s):")
    assert TOKEN not in request.text and "\n[redacted]\n" in request.text
    assert request.text[request.offset :] == "helpers.count([])\n"  # the cursor moved with it


def test_the_exclude_setting_adds_to_the_deny_list() -> None:
    server = server_with(documents(), ROOT)
    server.settings = replace(server.settings, exclude=("notes.*",))
    request = request_at(server, f"file://{ROOT}/app.py", types.Position(5, 4))
    assert request is not None and [document.name for document in request.related] == ["shapes.py"]
    server.settings = replace(server.settings, exclude=("app.py",))
    assert request_at(server, f"file://{ROOT}/app.py", types.Position(5, 4)) is None


def test_workspace_folders_count_as_the_workspace() -> None:
    server = server_with(documents(), root=None)
    request = request_at(server, f"file://{ROOT}/app.py", types.Position(5, 4))
    assert request is not None and request.related == ()  # no workspace: no other file
    folder = types.WorkspaceFolder(uri=f"file://{OUTSIDE}", name="outside")
    server.workspace.add_folder(folder)
    request = request_at(server, f"file://{ROOT}/app.py", types.Position(5, 4))
    assert request is not None and [document.name for document in request.related] == ["helpers.py"]


def test_no_request_in_a_denied_file_nor_on_a_secret_line() -> None:
    server = server_with(documents(), ROOT)
    assert request_at(server, f"file://{ROOT}/secrets.yaml", types.Position(0, 5)) is None
    assert request_at(server, f"file://{ROOT}/app.py", types.Position(4, 10)) is None
