"""FIM prompt formats, one TOML file per model family (read with importlib.resources)."""
