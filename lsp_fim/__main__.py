import sys

from lsp_fim.cli import main

sys.exit(main())
