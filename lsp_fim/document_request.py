"""From an open document and a cursor to the engine's request, in two steps on two threads.

The event loop takes a :class:`DocumentSnapshot`: references to the documents' (immutable)
texts and the few facts a request needs, all cheap. A worker thread then does the work that
grows with a document's size: the cursor's offset, redacting secret lines (``privacy``) and
finding which other open files the document names. Done on the event loop, that work stalled
every other message for as long as it took: 190 ms for a 2-million-character line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from lsp_fim.engine import CompletionRequest
from lsp_fim.positions import Encoding, PositionError, clamped_offset, offset_of
from lsp_fim.positions import Position as TextPosition
from lsp_fim.privacy import redact_at, redact_lines
from lsp_fim.related_files import RelatedDocument, is_named_in

log = logging.getLogger(__name__)

MAX_DOCUMENT_CHARS = 2_000_000
# In a Python string every surrogate is a lone one: json.loads joins the pairs.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class OtherDocument:
    """An open file that may serve as context (privacy checked): ``name`` is shown to the
    model, ``line`` is where the user last worked in it."""

    name: str
    path: str
    text: str
    line: int


@dataclass(frozen=True)
class DocumentSnapshot:
    uri: str
    text: str
    position: TextPosition
    encoding: Encoding
    language_id: str | None
    path: str
    name: str
    repo: str | None
    others: tuple[OtherDocument, ...]


def usable(text: str) -> bool:
    """Documents too large or binary get no suggestion (and are no context)."""
    return len(text) <= MAX_DOCUMENT_CHARS and "\x00" not in text


def encodable(text: str) -> str:
    """``text`` with each lone surrogate (JSON can carry one, UTF-8 cannot: the tokenizer
    failed on it) as U+FFFD, one code point for one, so that offsets stay."""
    return text if text.isascii() else LONE_SURROGATE.sub("\ufffd", text)


def request_from(snapshot: DocumentSnapshot) -> CompletionRequest | None:
    """The engine's request, or None when there is nothing to ask (bad position, the cursor
    on a secret). Every prompt (the editor's, the work ahead, any backend) starts here."""
    try:
        offset = offset_of(snapshot.text, snapshot.position, snapshot.encoding)
    except PositionError as error:
        log.warning("bad position for %s: %s", snapshot.uri, error)
        return None
    redacted = redact_at(encodable(snapshot.text), offset)
    if redacted is None:
        log.info("the cursor in %s is on a line that holds a secret: no suggestion", snapshot.uri)
        return None
    text, offset = redacted
    return CompletionRequest(
        text,
        offset,
        snapshot.language_id,
        snapshot.path,
        name=snapshot.name,
        repo=snapshot.repo,
        related=_related_documents(snapshot.others, text),
    )


def _related_documents(
    others: tuple[OtherDocument, ...], text: str
) -> tuple[RelatedDocument, ...]:
    """The other documents that ``text`` names, in the given order, each at its line."""
    related = []
    for other in others:
        if not is_named_in(other.path, text):
            continue
        other_text = redact_lines(encodable(other.text))
        offset = clamped_offset(other_text, TextPosition(other.line, 0), "utf-32")
        related.append(RelatedDocument(other.name, other_text, offset))
    return tuple(related)
