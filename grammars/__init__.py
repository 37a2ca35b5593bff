"""Per-language scope knowledge for the tree-sitter scope stop (read with importlib.resources)."""
