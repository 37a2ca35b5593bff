"""FIM quality harness; the same as ``lsp-fim eval``. Run ``python bench/quality.py --help``."""

from __future__ import annotations

import argparse
import sys

from lsp_fim.evaluation import add_eval_arguments, run_eval


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/quality.py",
        description="Score FIM completions in the raw, indent and scope stop modes.",
    )
    add_eval_arguments(parser)
    return run_eval(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
