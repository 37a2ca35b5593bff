"""Measuring equipment: the benchmarks, the peers' baseline rule and the hooks they need.

Not part of the product (the wheel ships ``lsp_fim`` only); run from a checkout, e.g.
``python -m bench.quality``.
"""
