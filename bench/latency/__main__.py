"""``python -m bench.latency``."""

import sys

from bench.latency.cli import main

sys.exit(main())
