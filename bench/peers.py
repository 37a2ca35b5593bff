"""The peers' stop rule, rebuilt as the ``indent`` baseline that the scope stop is measured
against (``python -m bench.quality``, ``bench/latency``).

Both halves copy what users of those tools get today, quirks included, so that the comparison
is with the real thing and not with a version tuned by us:

* llama.cpp server's ``n_indent`` (``process_token`` in ``tools/server/server-context.cpp``),
  with the value llama.vim sends: the leading whitespace of the cursor's whole line, or 0 when
  that line is blank, which switches the rule off. The server checks once per token and one
  line behind: the line start is recorded on the token after its newline and judged from the
  next token on. A judged line (blank ones too) whose spaces and tabs number fewer than
  ``n_indent`` is cut right after its indentation. The end-of-generation token goes through
  the same check, so :meth:`IndentGuard.finish` runs it once more on ``eos``.
* Tabby's ``removeDuplicateSuffixLines`` post-process filter (tabby-agent
  ``codeCompletion/postprocess``): from the last line backwards, the first line of the
  suggestion that equals the first non-blank suffix line, with the following lines also equal
  to the next suffix lines, is dropped together with everything after it. Suggestion lines are
  compared as generated, suffix lines stripped, exactly as upstream does; so indented
  duplicates are kept.
"""

from __future__ import annotations

from lsp_fim.languages import is_code
from lsp_fim.scope import NoGuard, StopDecision, StopGuard, StopReason
from lsp_fim.scope.guard import around_cursor

_INDENT_CHARS = " \t"


def cursor_line_indent(prefix: str, suffix: str) -> int:
    """llama.vim's ``n_indent``: the whitespace that starts the cursor's line, 0 if it is blank."""
    line = prefix[prefix.rfind("\n") + 1 :] + suffix.split("\n", 1)[0].rstrip("\r")
    if not line.strip(_INDENT_CHARS):
        return 0
    return len(line) - len(line.lstrip(_INDENT_CHARS))


def without_duplicate_suffix_lines(text: str, suffix: str) -> str:
    """Tabby's ``removeDuplicateSuffixLines``: ``text`` up to where it repeats ``suffix``."""
    suffix_lines = [line.strip() for line in suffix.split("\n") if line.strip()]
    if not suffix_lines:
        return text
    lines = text.split("\n")
    for start in range(len(lines) - 1, -1, -1):
        repeated = zip(lines[start:], suffix_lines, strict=False)
        if lines[start].strip() and all(ours == theirs for ours, theirs in repeated):
            return "\n".join(lines[:start])
    return text


class IndentGuard:
    """Stops at the first line indented less than the cursor's line, then drops suffix repeats."""

    def __init__(self, prefix: str, suffix: str) -> None:
        self._suffix = suffix
        self._min_indent = cursor_line_indent(prefix, suffix)
        self._seen = 0
        self._saw_new_line = False
        self._line_start = 0

    def feed(self, generated: str) -> StopDecision | None:
        cut = self._token_step(generated)
        if cut is None:
            return None
        return self._decision(generated[:cut], StopReason.SCOPE_CLOSED)

    def finish(self, generated: str, reason: StopReason) -> StopDecision:
        cut = self._token_step(generated) if reason is StopReason.EOS else None
        if cut is not None:
            return self._decision(generated[:cut], StopReason.SCOPE_CLOSED)
        return self._decision(generated, reason)

    def _token_step(self, generated: str) -> int | None:
        """One token's pass through the server's check; where to cut, if the rule fired."""
        piece = generated[self._seen :]
        self._seen = len(generated)
        cut = None
        if self._saw_new_line and self._min_indent > 0:
            cut = self._short_indent_cut(generated)
        self._saw_new_line = self._saw_new_line or "\n" in piece
        return cut

    def _short_indent_cut(self, generated: str) -> int | None:
        cut = None
        if self._line_start > 0:
            end = self._line_start
            while end < len(generated) and generated[end] in _INDENT_CHARS:
                end += 1
            if end < len(generated) and end - self._line_start < self._min_indent:
                cut = end
        newline = generated.find("\n", self._line_start)
        if newline != -1:
            self._line_start = newline + 1
        return cut

    def _decision(self, kept: str, reason: StopReason) -> StopDecision:
        without_repeats = without_duplicate_suffix_lines(kept, self._suffix)
        if len(without_repeats) < len(kept):
            reason = StopReason.SUFFIX_REPEAT
        return StopDecision(len(without_repeats), reason)


def indent_guard(language: str | None, prefix: str, suffix: str) -> StopGuard:
    """The peers' rule as the engine's guard factory: code only, over the text the scope stop
    also reads, so the two rules see the same document."""
    if not is_code(language):
        return NoGuard()
    return IndentGuard(*around_cursor(prefix, suffix))
