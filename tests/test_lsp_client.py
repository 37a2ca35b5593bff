"""The shared LSP client and engine-process helpers of bench/ and tests/ (``bench.lsp_client``,
``bench.engine_process``), without a model."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.engine_process import EngineStartError, free_port, running_engine
from bench.lsp_client import (
    FrameDecoder,
    LspProcess,
    frame,
    server_command,
    server_request_result,
    status_numbers,
)

# A server whose event loop is stuck, seen from outside: it reads nothing and ignores
# SIGTERM and SIGUSR1.
STUCK_SERVER = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


def test_frames_split_anywhere_are_read_whole_and_in_order() -> None:
    first = {"jsonrpc": "2.0", "id": 1, "result": {"text": "é \ud800 \U0001f600"}}
    second = {"jsonrpc": "2.0", "method": "$/progress", "params": {"value": {"kind": "end"}}}
    data = frame(first) + frame(second)
    assert data.isascii()  # lone surrogates travel as JSON escapes
    for size in (1, 7, len(data)):
        decoder = FrameDecoder()
        read = [m for at in range(0, len(data), size) for m in decoder.feed(data[at : at + size])]
        assert read == [first, second], size


def test_a_header_without_content_length_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Content-Length"):
        FrameDecoder().feed(b"Content-Type: x\r\n\r\n{}")


def test_configuration_is_answered_for_every_item() -> None:
    asked = {"id": 3, "method": "workspace/configuration", "params": {"items": [{}, {}]}}
    assert server_request_result(asked, {"maxTokens": 8}) == [{"maxTokens": 8}] * 2
    progress = {"id": 4, "method": "window/workDoneProgress/create", "params": {"token": "t"}}
    assert server_request_result(progress, {"maxTokens": 8}) is None


def test_status_numbers() -> None:
    status = status_numbers("Name:\tpython\nThreads:\t7\nVmHWM:\t  612345 kB\n")
    assert status == {"Threads": 7, "VmHWM": 612345}


def test_an_engine_that_exits_while_starting_is_reported_with_its_stderr(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; sys.stderr.write('no model'); sys.exit(3)"]
    with (
        pytest.raises(EngineStartError, match=r"exited with status 3(.|\n)*no model"),
        running_engine("broken", command, free_port(), "/", tmp_path, 30),
    ):
        pass


def test_an_engine_is_ready_once_it_answers_and_stopped_after(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with running_engine("http.server", command, port, "/", tmp_path, 30) as engine:
        assert engine.process.poll() is None
        assert engine.url == f"http://127.0.0.1:{port}"
    assert engine.process.poll() is not None


async def test_a_server_that_reads_nothing_fails_the_client_in_bounded_time() -> None:
    """An unbounded wait for a server to read its input hung a CI run until its 90-minute
    limit; now the write fails, and the stop kills the server."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        STUCK_SERVER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    assert await process.stdout.readline() == b"ready\n"
    client = LspProcess(process, {})
    client.notify("textDocument/didOpen", {"text": "x" * 2_000_000})
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.drain(timeout=1), 20)
    code = await asyncio.wait_for(client.stop(timeout=1), 20)
    assert code == -signal.SIGKILL
    assert client.stuck


def test_the_server_writes_every_thread_s_stack_on_sigusr1_and_goes_on(tmp_path: Path) -> None:
    """What the client's stop asks of a stuck server before it kills it."""
    server = subprocess.Popen(
        server_command("serve"),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert server.stdin is not None and server.stderr is not None
    try:
        assert b"on stdio" in server.stderr.readline()
        server.send_signal(signal.SIGUSR1)
        dump = b"".join(server.stderr.readline() for _ in range(3))
        time.sleep(0.2)
        assert server.poll() is None, "SIGUSR1 ends a process that did not ask for it"
    finally:
        server.stdin.close()  # the end of the stream ends the server
        server.wait(30)
    assert b"thread 0x" in dump.lower() and b"File " in dump, dump
