"""lsp-fim: a fill-in-the-middle completion language server that stops where the code ends."""

__version__ = "0.1.0"
