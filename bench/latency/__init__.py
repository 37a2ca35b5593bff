"""Keystroke-to-suggestion latency, replayed over stdio the way an editor drives the server.

Real files from ``bench/corpus`` are opened in ``lsp-fim serve``; chosen lines are emptied and
retyped one character at a time, each keystroke an incremental ``didChange`` followed by
``textDocument/inlineCompletion``, a still-pending request cancelled with ``$/cancelRequest``
(as Neovim and VS Code do). The same document states are then replayed through two baselines
(llama-cpp-python's high-level API with the whole prompt each time, and llama-server's
``/infill`` with ``cache_prompt`` and ``--cache-reuse 256``) and through the server's own engine
with a cold cache, to check that speed did not change the suggestions. Model workloads run one
after another: on a 2-core machine two at once would measure contention, not latency.

One job a module: ``trace`` (which lines are retyped), ``replay`` (typing into the server),
``states`` (the answered states and their prompts), ``baselines``, ``agreement``, ``stats``,
``report`` and ``cli``. Run ``.venv/bin/python -m bench.latency --help``.
"""
