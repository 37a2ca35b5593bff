"""Where the log goes, and what may be in it.

The log is a file on disk (``--log-file``) that outlives the session and is attached to bug
reports. So the file is the user's alone (0600), the text of documents and suggestions
appears only at ``-v`` (pygls logs every LSP message it sends at INFO, which ``-v`` turns on),
and whatever looks like a secret is redacted from every record, at every level.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import stat
import sys

from lsp_fim.privacy import redact_spans

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Redacts secret-shaped text from a record's message and traceback before any handler
    formats it (a filter on the handler sees the records of every logger, pygls's too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_spans(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_spans(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_spans(record.stack_info)
        return True


def setup_logging(log_file: str | None, verbose: bool) -> None:
    handler = _private_file_handler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:  # pygls logs whole LSP messages (suggestions, settings) at INFO
        logging.getLogger("pygls").setLevel(logging.WARNING)


def enable_stack_dumps() -> None:
    """Every thread's Python stack goes to stderr on a fatal signal, and on SIGUSR1 where
    there is one (``kill -USR1 PID``): a server that hangs or dies inside llama.cpp says
    where. Stacks hold file names and line numbers, never document text."""
    with contextlib.suppress(OSError, ValueError):  # no usable stderr (a closed descriptor)
        faulthandler.enable(all_threads=True)
        if hasattr(signal, "SIGUSR1"):
            faulthandler.register(signal.SIGUSR1, all_threads=True)


def _private_file_handler(path: str) -> logging.FileHandler:
    """Appends to ``path``, created 0600; a regular file of ours that exists is made 0600 too
    (a device or pipe such as /dev/stderr is left as it is)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            with contextlib.suppress(PermissionError):  # another user's file, writable to us
                os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    return logging.FileHandler(path, encoding="utf-8")
