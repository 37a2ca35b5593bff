"""Open documents with lines where LSP ends them, edited in one pass over their text.

pygls splits a document with ``str.splitlines``, which also breaks lines at ``\\f``, ``\\v``,
``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028`` and ``\\u2029``: an incremental edit below such a
character lands on the wrong line, and the server's copy drifts from the editor's for good.
LSP ends lines at ``\\n``, ``\\r\\n`` and ``\\r`` only (``lsp_fim.positions``). pygls also
rebuilds every line of the document for each edit; here an edit is two offsets and a slice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from lsp_fim.positions import Encoding, Position, clamped_offset

LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


class LspTextDocument(TextDocument):
    @property
    def lines(self) -> Sequence[str]:
        return tuple(LINE.findall(self.source))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        source = self.source
        start = clamped_offset(source, _position(change.range.start), self._encoding())
        end = max(start, clamped_offset(source, _position(change.range.end), self._encoding()))
        self._source = source[:start] + change.text + source[end:]

    def _encoding(self) -> Encoding:
        encoding = str(self.position_codec.encoding or "utf-16")
        return encoding if encoding in ("utf-8", "utf-32") else "utf-16"  # type: ignore[return-value]


class LspWorkspace(Workspace):
    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )


def use_lsp_lines(workspace: Workspace) -> None:
    """Documents opened from now on in ``workspace`` (pygls makes it in ``initialize``, before
    the server's handler runs) split and edit as LSP says."""
    workspace.__class__ = LspWorkspace


def _position(position: types.Position) -> Position:
    return Position(position.line, position.character)
