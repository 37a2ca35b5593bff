"""Maps LSP ``languageId`` values and file extensions to lsp-fim's canonical language names."""

from __future__ import annotations

from pathlib import PurePath

_LANGUAGE_IDS: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "go": "go",
    "rust": "rust",
    "c": "c",
    "cpp": "cpp",
    "java": "java",
    "lua": "lua",
    "shellscript": "bash",
    "sh": "bash",
    "bash": "bash",
}

_EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".java": "java",
    ".lua": "lua",
    ".sh": "bash",
    ".bash": "bash",
}


def language_for(language_id: str | None, path: str | None) -> str | None:
    """The canonical language, from the editor's ``languageId`` first, else the file name."""
    if language_id and language_id.lower() in _LANGUAGE_IDS:
        return _LANGUAGE_IDS[language_id.lower()]
    if path:
        return _EXTENSIONS.get(PurePath(path).suffix.lower())
    return None


def language_id_for_path(path: str) -> str:
    """The ``languageId`` an editor would send for ``path`` (used by the CLI)."""
    return language_for(None, path) or PurePath(path).suffix.lstrip(".").lower() or "plaintext"
