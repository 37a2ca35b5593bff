#!/usr/bin/env bash
# One command for the VS Code end-to-end check (see README.md beside this file):
# builds the extension and its .vsix, then runs e2e.mjs in code-server + headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
rm -f lsp-fim-*.vsix
npm run package
exec node test/e2e.mjs "$@"
