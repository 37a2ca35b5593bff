-- Sourced at start-up once editors/neovim is on 'runtimepath' (a plugin manager puts it there):
-- enables lsp-fim with the options in `vim.g.lsp_fim`, set before this runs, unless setup()
-- was called already. A later require('lsp_fim').setup({ ... }) replaces them.
if vim.g.loaded_lsp_fim or vim.fn.has('nvim-0.11') == 0 then
  return
end
vim.g.loaded_lsp_fim = true
local lsp_fim = require('lsp_fim')
if not lsp_fim.is_set_up() then
  lsp_fim.setup()
end
