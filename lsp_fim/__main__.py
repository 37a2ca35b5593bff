from lsp_fim.cli import main
import sys

sys.exit(main())
