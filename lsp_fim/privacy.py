"""What may be read into a prompt: files by their path, and secrets by their shape.

A prompt may leave the machine (``llama-server`` or an OpenAI-compatible engine elsewhere),
and the user opens everything in the editor, ``.env`` and ``id_rsa`` included. So files
that hold secrets by convention are never read (no suggestion in them, never context for
another file), and lines that look like a secret are replaced, line for line, in whatever
text is sent or logged.

Both checks err on the side of leaving text out: a missed completion costs a keystroke, a
leaked key costs a rotation.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from urllib.parse import unquote

# Files that hold secrets by convention, matched case-insensitively. A pattern without "/"
# matches the file name; one with "/" the end of the path ("**" spans folders).
DEFAULT_DENY = (
    # environment files (direnv's .envrc exports them too)
    ".env",
    ".env.*",
    ".envrc",
    # private keys, certificates with keys, key stores, password databases
    "*.pem",
    "*.key",
    "*.ppk",
    "id_rsa*",
    "id_ed25519*",
    "id_ecdsa*",
    "id_dsa*",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.gpg",
    "*.asc",
    "*.ovpn",
    ".ssh/**",
    ".gnupg/**",
    # credential and secret files: exact names, so CredentialsProvider.java is still code
    "credentials",
    "credentials.*",
    "credentials-*",
    "credentials_*",
    "secrets.*",
    "secret.*",
    # tool configurations that hold tokens or passwords
    ".npmrc",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".my.cnf",
    ".git-credentials",
    ".dockercfg",
    ".docker/config.json",
    ".kube/config",
    ".config/gh/hosts.yml",
    ".vault-token",
    ".s3cfg",
    ".htpasswd",
    # Terraform state and variables hold provider credentials in plain text
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
    "*.tfvars.json",
)

PLACEHOLDER = "[redacted]"


# A word character before a token's first letters means the letters belong to another word
# (``task-…`` is not ``sk-…``); checked after the prefix, so the search stays fast.
def _token(prefix: str, rest: str) -> re.Pattern[str]:
    return re.compile(f"{re.escape(prefix)}(?<![A-Za-z0-9_].{{{len(prefix)}}}){rest}")


# Secrets by shape, looked for everywhere. Each match is a span to redact (a whole line in a
# prompt).
TOKEN_PATTERNS = (
    # PEM and PGP private keys, to the END line (or the end of the text when cut off)
    re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*)",
        re.DOTALL,
    ),
    *(_token(prefix, r"[0-9A-Z]{16}(?![A-Za-z0-9])") for prefix in ("AKIA", "ASIA")),  # AWS
    *(_token(f"gh{kind}_", r"[A-Za-z0-9]{36,255}") for kind in "pousr"),  # GitHub
    _token("github_pat_", r"[A-Za-z0-9_]{22,255}"),
    _token("sk-ant-", r"[A-Za-z0-9_-]{20,}"),  # Anthropic
    # OpenAI (sk-, sk-proj-, sk-svcacct-): long, letters and digits
    _token("sk-", r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}"),
    _token("xox", r"[abprs]-[A-Za-z0-9-]{10,}"),  # Slack
    _token("AIza", r"[0-9A-Za-z_-]{35}"),  # Google API key
    *(_token(f"{kind}k_live_", r"[0-9A-Za-z]{16,}") for kind in "sr"),  # Stripe
    *(_token(f"{kind}k_test_", r"[0-9A-Za-z]{16,}") for kind in "sr"),
    _token("eyJ", r"[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"),  # JWT
)
SCAN_PIECE_CHARS = 65_536
# A line longer than this (minified code, data) is searched for an assignment only around each
# key name in it, not whole.
LONG_LINE_CHARS = 4_096
KEY_CONTEXT_CHARS = 1_024
# Names of keys whose value is a secret (DB_PASSWORD, client_secret, "apiKey"), looked for in
# lowercased text; only the lines that hold one are searched for ASSIGNMENT_PATTERNS.
_KEY_WORD = re.compile(
    r"pass(?:word|wd|phrase)|secret|api[_-]?key|access[_-]?(?:key|token)|private[_-]?key"
    r"|auth[_-]?token|refresh[_-]?token|bearer[_-]?token"
)
_KEY = rf"(?:{_KEY_WORD.pattern})[\w.-]*"
_VALUE = r"(?P<value>[^\s\"'`\\]{8,})"
_QUOTE = r"\\?[\"'`]"  # escaped in a JSON string (a log record of an LSP message)
ASSIGNMENT_PATTERNS = (
    # password = "...", "apiKey": "...", API_KEY='...' (any language, quoted)
    re.compile(rf"(?i){_KEY}{_QUOTE}?\s*(?::=|=>|[:=])\s*{_QUOTE}{_VALUE}{_QUOTE}"),
    # password: ... / API_KEY=... alone on its line (YAML, .properties, .ini), unquoted
    re.compile(
        rf"(?im)(?:^|(?<=\"))[ \t]*{_QUOTE}?[\w.-]*?{_KEY}{_QUOTE}?[ \t]*[:=][ \t]*"
        r"(?P<value>[A-Za-z0-9+/=_!@#^&*~.-]{8,})[ \t]*(?:$|(?=\\?\"))"
    ),
    # aws_secret_access_key = wJalr... (40 characters of base64)
    re.compile(
        rf"(?i)aws.{{0,20}}?secret.{{0,20}}?[:=]\s*{_QUOTE}?(?P<value>[A-Za-z0-9/+]{{40}})\b"
    ),
)
# A value that reads like a name or a reference (``settings.SECRET_KEY``), not a secret.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# Line breaks escaped in a JSON string (an LSP message in a log record), read as two
# characters of the same length, so that spans found in the reading are spans of the original.
_JSON_ESCAPE = re.compile(r"\\(.)")
_JSON_READING = {"n": " \n", "r": " \r", "t": " \t"}


def is_denied(path: str, extra_globs: Iterable[str] = ()) -> bool:
    """Whether the file at ``path`` may hold secrets by its name: ``DEFAULT_DENY``, then the
    user's own globs. pygls leaves a URI's %-escapes in a document's path (``%2Eenv``), so
    the path is checked decoded too."""
    spellings = {_normal_path(path), _normal_path(unquote(path))}
    patterns = (*DEFAULT_DENY, *extra_globs)
    return any(_glob(pattern).fullmatch(normal) for pattern in patterns for normal in spellings)


def validate_globs(globs: Sequence[str]) -> tuple[str, ...]:
    """The user's ``exclude`` globs, each compiled here so that a bad one is said at once."""
    cleaned = tuple(glob.strip() for glob in globs)
    for glob in cleaned:
        if not glob:
            raise ValueError("expected globs, found an empty one")
        try:
            _glob(glob)
        except re.error as error:
            raise ValueError(f"bad glob {glob!r}: {error}") from None
    return cleaned


def may_be_context(path: str, roots: Iterable[str], extra_globs: Iterable[str] = ()) -> bool:
    """Whether another open file may be context for the one being completed: not denied,
    and inside one of the workspace folders ``roots``, symbolic links followed (a link in
    the project to ~/.aws/credentials is still that file)."""
    real = os.path.realpath(unquote(path))
    if is_denied(path, extra_globs) or is_denied(real, extra_globs):
        return False
    return any(_is_within(real, os.path.realpath(unquote(root))) for root in roots)


def _is_within(path: str, root: str) -> bool:
    path, root = os.path.normcase(path), os.path.normcase(root)
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:  # another drive
        return False


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` holds something shaped like a secret, in order of start."""
    spans = [match.span() for pattern in TOKEN_PATTERNS for match in pattern.finditer(text)]
    for start, end in _lines_naming_a_key(text):
        for pattern in ASSIGNMENT_PATTERNS:
            spans.extend(
                match.span()
                for match in pattern.finditer(text, start, end)
                if _looks_secret(match["value"])
            )
    return sorted(spans)


def _lines_naming_a_key(text: str) -> list[tuple[int, int]]:
    """The lines (start, end) that hold a secret key's name: a search of lowercased text,
    much faster than a case-insensitive one of all of it."""
    lower = text.lower()
    if len(lower) != len(text):  # lowercasing changed offsets (e.g. "İ"): the whole text
        return [(0, len(text))]
    lines: list[tuple[int, int]] = []
    position = 0
    while (found := _next_key_word(lower, position)) is not None:
        start = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.end())
        end = len(text) if end == -1 else end
        if end - start > LONG_LINE_CHARS:  # minified or generated: only around the name
            start = max(start, found.start() - KEY_CONTEXT_CHARS)
            end = min(end, found.end() + KEY_CONTEXT_CHARS)
        lines.append((start, end))
        position = end + 1
    return lines


def _next_key_word(lower: str, position: int) -> re.Match[str] | None:
    """The next key name from ``position``, searched a piece at a time: ``re`` holds the GIL
    for a whole search, and one over a 2-million-character line took 60 ms, during which no
    other thread (the server's event loop) ran. Pieces overlap by more than a name's length."""
    while position < len(lower):
        end = min(len(lower), position + SCAN_PIECE_CHARS + 32)
        if (found := _KEY_WORD.search(lower, position, end)) is not None:
            return found
        position += SCAN_PIECE_CHARS
    return None


@lru_cache(maxsize=16)  # documents the user is not typing in are the same text each time
def secret_lines(text: str) -> frozenset[int]:
    """The (0-based) numbers of the lines that hold a secret, a PEM block's every line."""
    spans = secret_spans(text)
    if not spans:
        return frozenset()
    lines: set[int] = set()
    counted, line = 0, 0  # newlines before ``counted``
    for start, end in spans:  # in order of start
        line += text.count("\n", counted, start)
        counted = start
        last = line + text.count("\n", start, max(start, end - 1))
        lines.update(range(line, last + 1))
    return frozenset(lines)


def redact_lines(text: str) -> str:
    """``text`` with each line that holds a secret replaced by a placeholder line, so line
    numbers (and every other line) stay as they were."""
    return _with_placeholders(text, secret_lines(text), 0)[0]


def redact_at(text: str, offset: int) -> tuple[str, int] | None:
    """``redact_lines(text)`` with ``offset`` moved to the same place in it; None when the
    cursor is on a secret line: nothing suggested there could be sent without the secret."""
    lines = secret_lines(text)
    if not lines:
        return text, offset
    if text.count("\n", 0, offset) in lines:
        return None
    return _with_placeholders(text, lines, offset)


def _with_placeholders(text: str, numbers: frozenset[int], offset: int) -> tuple[str, int]:
    if not numbers:
        return text, offset
    lines = text.split("\n")
    cursor_line = text.count("\n", 0, offset)
    for number in sorted(numbers):
        replacement = _placeholder_for(lines[number])
        if number < cursor_line:
            offset += len(replacement) - len(lines[number])
        lines[number] = replacement
    return "\n".join(lines), offset


def redact_spans(text: str) -> str:
    """``text`` with each secret replaced by the placeholder in place: for log records, where
    a whole message (an LSP message as JSON, its line breaks escaped) is one line."""
    reading = _JSON_ESCAPE.sub(lambda escape: _JSON_READING.get(escape[1], escape[0]), text)
    spans = secret_spans(reading)
    if not spans:
        return text
    pieces, done = [], 0
    for start, end in spans:
        if start >= done:
            pieces.append(text[done:start] + PLACEHOLDER)
        done = max(done, end)
    return "".join(pieces) + text[done:]


def _looks_secret(value: str) -> bool:
    """A literal assigned to a secret-named key is taken for a secret when it reads like one:
    letters with digits, or mixed case; a name (``settings.SECRET_KEY``,
    ``"PasswordRequiredV2"``) only with two digits or more (``hunter22``)."""
    digits = sum(char.isdigit() for char in value)
    if _NAME.fullmatch(value) and digits < 2:
        return False
    has_letter = any(char.isalpha() for char in value)
    mixed_case = value.lower() != value and value.upper() != value
    return (has_letter and digits > 0) or mixed_case


def _placeholder_for(line: str) -> str:
    """Keeps the indentation, and each carriage return: LSP counts a lone one as a line
    break, so the editor's line numbers stay right too."""
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return indent + PLACEHOLDER + "\r" * line.count("\r")


def _normal_path(path: str) -> str:
    """One spelling per file: "/" between parts, case-folded, NFC (macOS file names are
    NFD), and Windows names as Windows reads them (``.env.`` and ``.env::$DATA`` are .env)."""
    normal = unicodedata.normalize("NFC", path).replace("\\", "/").casefold()
    parts = [_windows_name(part) for part in normal.split("/")]
    return "/".join(parts)


def _windows_name(part: str) -> str:
    if re.fullmatch(r"[a-z]:", part):  # a drive letter
        return part
    name = part.split(":", 1)[0] or part  # an alternate data stream names the file too
    return name.rstrip(". ") or name


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression over a normal path: it matches the end of the path at a
    "/" (so one without "/" matches the file name), or the whole path when it starts with
    "/" or a drive letter."""
    normal = _normal_path(pattern.strip())
    body = _translate(normal)
    if normal.startswith("/") or re.match(r"[a-z]:/", normal):
        return re.compile(body)
    return re.compile(r"(?:.*/)?" + body)


def _translate(glob: str) -> str:
    out, index = [], 0
    while index < len(glob):
        if glob.startswith("**/", index):
            out.append(r"(?:.*/)?")
            index += 3
        elif glob.startswith("**", index):
            out.append(r".*")
            index += 2
        elif glob[index] == "*":
            out.append(r"[^/]*")
            index += 1
        elif glob[index] == "?":
            out.append(r"[^/]")
            index += 1
        elif glob[index] == "[" and (close := glob.find("]", index + 2)) != -1:
            members = glob[index + 1 : close]
            negated = members.startswith("!")
            members = re.escape(members[1:] if negated else members).replace(r"\-", "-")
            out.append(f"[{'^' if negated else ''}{members}]")
            index = close + 1
        else:
            out.append(re.escape(glob[index]))
            index += 1
    return "".join(out)
