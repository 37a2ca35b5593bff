"""First contact with real editors, over the real server process on the real model: a request
sent while the model is still loading, files in folders whose URIs are %-escaped, and a
second connection to the TCP listener."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from bench.engine_process import free_port
from bench.lsp_client import Message, WireClient, server_env, start_server

pytestmark = pytest.mark.model

NORM = "import math\n\n\ndef norm(x: float, y: float) -> float:\n    r = \n    return r\n"
# Generous: the model loads in about a second, a suggestion takes well under one.
ANSWER_BOUND_S = 60
NO_CLOCK = {"maxTokens": 32, "maxGenerateMs": 0}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], WireClient]]:
    process = start_server("--log-file", str(tmp_path / "server.log"), "serve", env=server_env())
    client = WireClient.over_process(process)
    yield process, client
    client.shutdown()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
    process.kill()


def is_progress_end(message: Message) -> bool:
    value = message.get("params", {}).get("value", {}) if message.get("method") else {}
    return message.get("method") == "$/progress" and value.get("kind") == "end"


def items_of(answer: Message) -> list[Message]:
    result = answer.get("result")
    return list(result.get("items", [])) if isinstance(result, dict) else []


def test_requests_sent_right_after_did_open_are_all_answered(
    server: tuple[subprocess.Popen[bytes], WireClient],
) -> None:
    """An editor asks as soon as it opens a file at start-up, while the model loads."""
    _, client = server
    client.initialize(options={"lspFim": NO_CLOCK})
    uri = "file:///tmp/lsp_fim_boundary/norm.py"
    client.open(uri, NORM)
    opened = time.monotonic()
    sent: list[int] = []
    for step in range(21):  # 0, 0.1, ... 2.0 s after didOpen
        time.sleep(max(0.0, opened + step * 0.1 - time.monotonic()))
        sent.append(client.inline_completion(uri, 4, 8))
    answers = [client.wait_for_answer(request_id, ANSWER_BOUND_S) for request_id in sent]
    assert all("error" not in answer for answer in answers), answers
    # Once loaded, a request gets the model's answer (asked again, nothing newer to win).
    client.wait_for(is_progress_end, ANSWER_BOUND_S)
    last = client.wait_for_answer(client.inline_completion(uri, 4, 8), ANSWER_BOUND_S)
    assert items_of(last) and items_of(last)[0]["insertText"].strip()


@pytest.mark.parametrize(
    "folder",
    ["my proj é", "100% sure", "naïve/über", "日本語 フォルダ", "a#b?c[d]"],
)
def test_a_file_in_a_folder_whose_uri_is_escaped_gets_suggestions(
    server: tuple[subprocess.Popen[bytes], WireClient], tmp_path: Path, folder: str
) -> None:
    _, client = server
    root = tmp_path / folder
    client.initialize(root_uri=root.as_uri(), options={"lspFim": NO_CLOCK})
    client.wait_for(is_progress_end, ANSWER_BOUND_S)
    uri = (root / "norm.py").as_uri()  # %-escaped as editors send it: my%20proj%20%C3%A9
    assert "%" in uri
    client.open(uri, NORM)
    answer = client.wait_for_answer(client.inline_completion(uri, 4, 8), ANSWER_BOUND_S)
    assert items_of(answer) and items_of(answer)[0]["insertText"].strip(), answer
    copy = client.wait_for_answer(client.request("lspFim/documentText", {"uri": uri}), 10)
    assert copy["result"]["text"] == NORM


@pytest.mark.parametrize(
    "uri",
    [
        "file:///C:/Users/Me/My%20Documents/norm.py",
        "file:///c%3A/Users/Me/My%20Documents/norm.py",  # VS Code's spelling of a drive
        "file:///D:/Projekte/Gr%C3%BC%C3%9Fe/norm.py",
    ],
)
def test_a_windows_path_gets_suggestions(
    server: tuple[subprocess.Popen[bytes], WireClient], uri: str
) -> None:
    _, client = server
    client.initialize(options={"lspFim": NO_CLOCK})
    client.wait_for(is_progress_end, ANSWER_BOUND_S)
    client.open(uri, NORM)
    answer = client.wait_for_answer(client.inline_completion(uri, 4, 8), ANSWER_BOUND_S)
    assert items_of(answer) and items_of(answer)[0]["insertText"].strip(), answer


def test_related_file_in_an_escaped_folder_is_found(
    server: tuple[subprocess.Popen[bytes], WireClient], tmp_path: Path
) -> None:
    """The other open file is found under the same escaped folder (its key, not its URI)."""
    _, client = server
    root = tmp_path / "my proj é"
    client.initialize(root_uri=root.as_uri(), options={"lspFim": NO_CLOCK})
    client.wait_for(is_progress_end, ANSWER_BOUND_S)
    helpers = "def count_blue_widgets(widgets):\n    return sum(w == 'blue' for w in widgets)\n"
    client.open((root / "helpers.py").as_uri(), helpers)
    uri = (root / "app.py").as_uri()
    client.open(uri, "import helpers\n\nwidgets = ['blue', 'red']\nblue = helpers.")
    answer = client.wait_for_answer(client.inline_completion(uri, 3, 15), ANSWER_BOUND_S)
    assert items_of(answer) and "count_blue_widgets" in items_of(answer)[0]["insertText"]


def test_unquoted_and_quoted_uris_name_one_document(
    server: tuple[subprocess.Popen[bytes], WireClient], tmp_path: Path
) -> None:
    _, client = server
    client.initialize(options={"lspFim": NO_CLOCK})
    path = tmp_path / "my proj" / "a.py"
    client.open(path.as_uri(), "x = 1\n")
    raw = "file://" + quote(str(path), safe="/")
    copy = client.wait_for_answer(client.request("lspFim/documentText", {"uri": raw}), 10)
    assert copy["result"]["text"] == "x = 1\n"


def test_the_server_hands_back_no_text_of_a_secret_file(
    server: tuple[subprocess.Popen[bytes], WireClient], tmp_path: Path
) -> None:
    """lspFim/documentText serves drift checks; a secret file's text would reach a -v log."""
    _, client = server
    client.initialize()
    uri = (tmp_path / "my proj" / ".env").as_uri()
    client.open(uri, "DB_PASSWORD=plainwords\n", language_id="dotenv")
    copy = client.wait_for_answer(client.request("lspFim/documentText", {"uri": uri}), 10)
    assert copy["result"]["text"] is None


# TCP -----------------------------------------------------------------------------------------


@pytest.fixture
def tcp_server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    port = free_port()
    log = tmp_path / "server.log"
    process = start_server(
        "--log-file", str(log), "serve", "--tcp", f"127.0.0.1:{port}", env=server_env()
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "listening on" not in _text(log):
        time.sleep(0.05)
    yield port, process, log
    process.kill()
    process.wait(10)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed this connection (within a few seconds)."""
    sock.settimeout(5)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


TCP_URI = "file:///tmp/lsp_fim_tcp/norm.py"


def _editor_session(sock: socket.socket) -> WireClient:
    """An editor's session on ``sock``: initialized, the model loaded, NORM open."""
    client = WireClient.over_socket(sock)
    client.initialize(options={"lspFim": NO_CLOCK})
    client.wait_for(is_progress_end, ANSWER_BOUND_S)
    client.open(TCP_URI, NORM)
    return client


def _assert_served(client: WireClient) -> None:
    answer = client.wait_for_answer(client.inline_completion(TCP_URI, 4, 8), ANSWER_BOUND_S)
    assert items_of(answer) and items_of(answer)[0]["insertText"].strip()
    client.shutdown()


def _browser_post(port: int) -> bool:
    """What a web page's ``fetch`` to the port sends: an HTTP request whose body is JSON-RPC
    (here ``exit``, which would end the session); whether the server closed it."""
    body = b'{"jsonrpc": "2.0", "method": "exit"}'
    with _connect(port) as browser:
        browser.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        return _closed_by_server(browser)


def test_a_browser_post_to_the_tcp_port_neither_reaches_nor_breaks_the_session(
    tcp_server: tuple[int, subprocess.Popen[bytes], Path],
) -> None:
    port, process, log = tcp_server
    assert _browser_post(port)  # before any editor: not LSP, closed unread
    assert "not an LSP client" in _text(log)
    assert process.poll() is None
    with _connect(port) as first:
        client = _editor_session(first)
        assert _browser_post(port)  # while the editor is connected
        _assert_served(client)


def test_a_second_lsp_client_is_refused_and_the_first_keeps_its_session(
    tcp_server: tuple[int, subprocess.Popen[bytes], Path],
) -> None:
    port, _, log = tcp_server
    with _connect(port) as first:
        client = _editor_session(first)
        with _connect(port) as second:
            intruder = WireClient.over_socket(second)
            with contextlib.suppress(OSError):
                intruder.request("initialize", {"processId": None, "capabilities": {}})
            assert intruder.closed.wait(10)
            assert not intruder.received
        _assert_served(client)
    assert "one client at a time" in _text(log)


def test_tcp_on_an_address_others_reach_needs_allow_remote() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lsp_fim", "serve", "--tcp", f"0.0.0.0:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env(),
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


def test_the_model_changed_fifty_times_while_requests_run(
    server: tuple[subprocess.Popen[bytes], WireClient], model_path: Path
) -> None:
    """Each change's $/progress ends, loads do not pile up, and the last setting wins."""
    _, client = server
    client.initialize(options={"lspFim": NO_CLOCK})
    uri = "file:///tmp/lsp_fim_boundary/norm.py"
    client.open(uri, NORM)
    requests = []
    for change in range(50):
        model = str(model_path) if change % 2 else f"/nonexistent/model-{change}.gguf"
        settings = {"settings": {"lspFim": {"model": model}}}
        client.notify("workspace/didChangeConfiguration", settings)
        if change % 5 == 0:
            requests.append(client.inline_completion(uri, 4, 8))
        time.sleep(0.02)
    for request_id in requests:
        assert "error" not in client.wait_for_answer(request_id, ANSWER_BOUND_S)

    def settled() -> bool:
        begun, ended = progress_tokens(client.received)
        tokens = {token for token, _ in ended}
        return bool(ended) and begun == tokens and ended[-1][1].startswith("ready")

    deadline = time.monotonic() + ANSWER_BOUND_S
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.1)
    begun, ended = progress_tokens(client.received)
    assert begun == {token for token, _ in ended}, (begun, ended)
    assert ended[-1][1].startswith("ready"), ended
    assert len(ended) <= 10  # coalesced: one load at a time, not one per change
    answer = client.wait_for_answer(client.inline_completion(uri, 4, 8), ANSWER_BOUND_S)
    assert items_of(answer) and items_of(answer)[0]["insertText"].strip()


def progress_tokens(messages: list[Message]) -> tuple[set[str], list[tuple[str, str]]]:
    """Tokens whose progress began, and (token, message) of each end, in order."""
    begun: set[str] = set()
    ended: list[tuple[str, str]] = []
    for message in messages:
        if message.get("method") != "$/progress":
            continue
        token, value = message["params"]["token"], message["params"]["value"]
        if value.get("kind") == "begin":
            begun.add(token)
        elif value.get("kind") == "end":
            ended.append((token, value.get("message") or ""))
    return begun, ended
