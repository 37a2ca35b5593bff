"""What Helix (25.x) sends to ``lsp-fim serve``, replayed on the wire, on the real model.

Helix is not installed here, so this test sends what its source says it sends:

- ``initialize`` with Helix's client capabilities (``helix-lsp/src/client.rs``,
  ``Client::initialize``): position encodings offered as ``["utf-8", "utf-32", "utf-16"]``, the
  ``config`` table of ``languages.toml`` as ``initializationOptions``; ``workspace/configuration``
  answered from that table, section by section (``helix-term/src/application.rs``);
- typing: one incremental ``didChange`` per character, positions in the negotiated encoding
  (``Client::changeset_to_changes``);
- ``textDocument/completion`` once two word characters are typed (``completion-trigger-len``),
  ``triggerKind`` 1 (no trigger characters are advertised), then, while the menu is open and
  the list ``isIncomplete``, again after each character with ``triggerKind`` 3
  (``handlers/completion/request.rs``, ``request_incomplete_completion_list``); no
  ``completionItem/resolve``, which Helix sends only to servers with a ``resolveProvider``;
- the menu filters items client-side: the pattern is the word before the cursor when the menu
  opened plus what was typed since, matched fuzzily against ``filterText`` (else ``label``);
  a re-request's answer replaces the server's items, and an empty menu closes
  (``ui/completion.rs``, ``Completion::new``, ``score``, ``replace_provider_completions``);
- accepting restores the document to the state the answer was made for and applies the item's
  ``textEdit`` there (``lsp_item_to_transaction``).

The line typed on has non-ASCII letters before the cursor, so a range counted in the wrong
encoding is caught. The replay waits for each answer before the next key, as when the model
answers faster than one types (Helix drops the answers to requests it re-sent meanwhile).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.lsp_client import Message, WireClient, frame, server_env, start_server

pytestmark = pytest.mark.model

# helix-lsp/src/client.rs (Client::initialize), with editor.lsp.snippets at its default (true).
HELIX_CAPABILITIES: dict[str, Any] = {
    "workspace": {
        "configuration": True,
        "didChangeConfiguration": {"dynamicRegistration": False},
        "workspaceFolders": True,
        "applyEdit": True,
        "symbol": {"dynamicRegistration": False},
        "executeCommand": {"dynamicRegistration": False},
        "inlayHint": {"refreshSupport": False},
        "workspaceEdit": {
            "documentChanges": True,
            "resourceOperations": ["create", "rename", "delete"],
            "failureHandling": "abort",
            "normalizesLineEndings": False,
        },
        "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": False},
        "fileOperations": {"willRename": True, "didRename": True},
    },
    "textDocument": {
        "completion": {
            "completionItem": {
                "snippetSupport": True,
                "resolveSupport": {
                    "properties": ["documentation", "detail", "additionalTextEdits"]
                },
                "insertReplaceSupport": True,
                "deprecatedSupport": True,
                "tagSupport": {"valueSet": [1]},
            },
            "completionItemKind": {},
        },
        "hover": {"contentFormat": ["markdown"]},
        "signatureHelp": {
            "signatureInformation": {
                "documentationFormat": ["markdown"],
                "parameterInformation": {"labelOffsetSupport": True},
                "activeParameterSupport": True,
            }
        },
        "rename": {
            "dynamicRegistration": False,
            "prepareSupport": True,
            "honorsChangeAnnotations": False,
        },
        "formatting": {"dynamicRegistration": False},
        "codeAction": {
            "codeActionLiteralSupport": {
                "codeActionKind": {
                    "valueSet": [
                        "",
                        "quickfix",
                        "refactor",
                        "refactor.extract",
                        "refactor.inline",
                        "refactor.rewrite",
                        "source",
                        "source.organizeImports",
                    ]
                }
            },
            "isPreferredSupport": True,
            "disabledSupport": True,
            "dataSupport": True,
            "resolveSupport": {"properties": ["edit", "command"]},
        },
        "publishDiagnostics": {"versionSupport": True, "tagSupport": {"valueSet": [1, 2]}},
        "inlayHint": {"dynamicRegistration": False},
    },
    "window": {"workDoneProgress": True},
    "general": {"positionEncodings": ["utf-8", "utf-32", "utf-16"]},
}
# The [language-server.lsp-fim.config] table of editors/helix/languages.toml.
HELIX_CONFIG = {"lspFim": {"maxTokens": 128}}

# Helix's auto-pairs closed the brace and the quote; the cursor is after the second "{".
BEFORE = 'def décrire(durée: float) -> str:\n    """Décrit une durée."""\n    unité = "s"\n'
LINE_START = '    return f"{durée} {'
LINE_END = '}"'
LINE = 3
TRIGGER_WORD = "un"  # two word characters: Helix's completion-trigger-len
MORE_CHARACTERS = 2  # typed from the suggestion afterwards, each followed by a re-request
ANSWER_TIMEOUT_S = 120


class HelixClient(WireClient):
    """Answers the server's requests as Helix does."""

    def _answer_server_request(self, message: Message) -> None:
        if message.get("method") == "workspace/configuration" and "id" in message:
            items = message["params"]["items"]
            result = [_config_section(item.get("section") or "") for item in items]
            self.send_raw(frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))
            return
        super()._answer_server_request(message)


def _config_section(section: str) -> Any:
    """Helix walks the ``config`` table along the dotted section (all of it for none); a
    missing part is null."""
    value: Any = HELIX_CONFIG
    for part in section.split(".") if section else []:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def utf8_column(line: str) -> int:
    """The character column of the end of ``line`` in UTF-8 code units (bytes): Helix's pick."""
    return len(line.encode("utf-8"))


def apply_utf8_edit(text: str, edit: dict[str, Any]) -> str:
    """Applies a single-line ``textEdit`` whose columns count UTF-8 bytes."""
    start, end = edit["range"]["start"], edit["range"]["end"]
    assert start["line"] == end["line"], edit
    lines = text.split("\n")
    encoded = lines[start["line"]].encode("utf-8")
    head = encoded[: start["character"]].decode("utf-8")  # raises inside a character
    tail = encoded[end["character"] :].decode("utf-8")
    lines[start["line"]] = head + edit["newText"] + tail
    return "\n".join(lines)


def fuzzy_match(pattern: str, text: str) -> bool:
    """nucleo's fuzzy match, case-insensitive: every pattern character, in order, in ``text``."""
    remaining = iter(text.casefold())
    return all(character in remaining for character in pattern.casefold())


class Step:
    """One completion request of the replay and what Helix would make of its answer."""

    def __init__(self, trigger_kind: int, text: str, word: str, answer: Message) -> None:
        self.trigger_kind = trigger_kind
        self.text = text  # the document when the request was sent
        self.word = word  # the word before the cursor: the menu's filter
        self.answer = answer

    @property
    def items(self) -> list[dict[str, Any]]:
        result = self.answer.get("result") or {}
        return list(result.get("items", []) if isinstance(result, dict) else result)

    def visible(self) -> list[dict[str, Any]]:
        """The items Helix's menu keeps for the filter."""
        return [
            item
            for item in self.items
            if fuzzy_match(self.word, item.get("filterText") or item["label"])
        ]


class Replay:
    def __init__(self, initialize: Message, steps: list[Step], received: list[Message]) -> None:
        self.initialize = initialize
        self.steps = steps
        self.received = received

    def explain(self) -> str:
        lines = [f"{step.trigger_kind} {step.word!r}: {step.answer}" for step in self.steps]
        return "\n".join(lines)


class Typist:
    """The document as Helix holds it, and the didChange it sends for each character."""

    def __init__(self, client: WireClient, uri: str) -> None:
        self.client = client
        self.uri = uri
        self.version = 0
        self.typed = ""
        text = BEFORE + LINE_START + LINE_END + "\n"
        document = {"uri": uri, "languageId": "python", "version": 0, "text": text}
        client.notify("textDocument/didOpen", {"textDocument": document})

    @property
    def text(self) -> str:
        return BEFORE + LINE_START + self.typed + LINE_END + "\n"

    def cursor(self) -> dict[str, int]:
        return {"line": LINE, "character": utf8_column(LINE_START + self.typed)}

    def type(self, character: str) -> None:
        position = self.cursor()
        self.typed += character
        self.version += 1
        change = {"range": {"start": position, "end": position}, "text": character}
        self.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [change],
            },
        )

    def complete(self, trigger_kind: int) -> Step:
        request_id = self.client.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": self.uri},
                "position": self.cursor(),
                "context": {"triggerKind": trigger_kind},
            },
        )
        answer = self.client.wait_for_answer(request_id, ANSWER_TIMEOUT_S)
        return Step(trigger_kind, self.text, self.typed, answer)


def _wait_for_model(client: WireClient) -> None:
    ready = client.wait_for(
        lambda m: m.get("method") == "$/progress" and m["params"]["value"].get("kind") == "end",
        ANSWER_TIMEOUT_S,
    )
    assert str(ready["params"]["value"].get("message", "")).startswith("ready"), ready


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    root = tmp_path_factory.mktemp("helix") / "projet été"
    root.mkdir()
    source = root / "decrire.py"
    source.write_text(BEFORE + LINE_START + LINE_END + "\n", encoding="utf-8")
    process = start_server("serve", env=server_env())
    client = HelixClient.over_process(process)
    try:
        yield _replay(client, root, source)
    finally:
        client.shutdown()
        process.kill()
        process.wait(30)


def _replay(client: WireClient, root: Path, source: Path) -> Replay:
    request_id = client.request(
        "initialize",
        {
            "processId": 4242,
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "rootPath": str(root),
            "rootUri": root.as_uri(),
            "initializationOptions": HELIX_CONFIG,
            "capabilities": HELIX_CAPABILITIES,
            "clientInfo": {"name": "helix", "version": "25.07.1 (a05c151b)"},
        },
    )
    initialize = client.wait_for_answer(request_id, 30)
    client.notify("initialized", {})
    typist = Typist(client, source.as_uri())
    _wait_for_model(client)
    for character in TRIGGER_WORD:
        typist.type(character)
    steps = [typist.complete(1)]
    for _ in range(MORE_CHARACTERS):
        visible = steps[-1].visible()
        if not visible:
            break  # the menu closed: Helix sends nothing more
        suggestion = visible[0]["textEdit"]["newText"]
        typist.type(suggestion[len(typist.typed)])
        steps.append(typist.complete(3))
    return Replay(initialize, steps, client.received)


def test_helix_negotiates_utf8_and_incremental_sync(replay: Replay) -> None:
    capabilities = replay.initialize["result"]["capabilities"]
    assert capabilities["positionEncoding"] == "utf-8"  # Helix's first choice
    sync = capabilities["textDocumentSync"]
    assert (sync["change"] if isinstance(sync, dict) else sync) == 2  # incremental
    completion = capabilities["completionProvider"]
    # No trigger characters: Helix asks with triggerKind 1, then 3; no resolveProvider: Helix
    # never sends completionItem/resolve.
    assert not completion.get("triggerCharacters")
    assert not completion.get("resolveProvider")


def test_the_suggestion_stays_in_the_menu_while_typing_it(replay: Replay) -> None:
    steps = replay.steps
    assert [step.trigger_kind for step in steps] == [1, 3, 3], replay.explain()
    for step in steps:
        assert "error" not in step.answer, replay.explain()
        assert step.answer["result"]["isIncomplete"] is True, replay.explain()
        assert step.visible(), f"Helix filters the item away:\n{replay.explain()}"


def test_ranges_count_utf8_bytes_on_a_non_ascii_line(replay: Replay) -> None:
    """The edit replaces the word before the cursor: from after ``{`` (past three 2-byte é)
    to the cursor, which itself is past an é once the typed word has one."""
    for step in replay.steps:
        edit = step.visible()[0]["textEdit"]
        assert edit["range"]["start"] == {"line": LINE, "character": utf8_column(LINE_START)}
        cursor = utf8_column(LINE_START + step.word)
        assert edit["range"]["end"] == {"line": LINE, "character": cursor}, replay.explain()
        assert edit["newText"].startswith(step.word), replay.explain()


def test_accepting_inserts_exactly_the_suggestion(replay: Replay) -> None:
    """Helix applies the item to the document its answer was made for."""
    last = replay.steps[-1]
    item = last.visible()[0]
    applied = apply_utf8_edit(last.text, item["textEdit"])
    expected = BEFORE + LINE_START + item["textEdit"]["newText"] + LINE_END + "\n"
    assert applied == expected
    assert item["filterText"].startswith(last.word)
    ast.parse(applied)


def test_the_settings_helix_sends_are_taken(replay: Replay) -> None:
    """The server says so in a message when settings are wrong; Helix's shapes (the ``config``
    table as initializationOptions and as the configuration answer) raise none."""
    messages = [m for m in replay.received if m.get("method") == "window/showMessage"]
    assert not messages, messages
