-- Kept for configurations that run this file (`dofile('…/editors/neovim/lsp-fim.lua')`): puts
-- this folder, a plugin in the layout plugin managers install, on 'runtimepath' and sets it up
-- with `vim.g.lsp_fim`. New configurations install the folder itself (see editors/README.md).
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
vim.opt.runtimepath:append(here)
local found, lsp_fim = pcall(require, 'lsp_fim')
if not found then
  -- This file alone was copied somewhere (as ~/.config/nvim/plugin/lsp-fim.lua, say).
  vim.notify(
    'lsp-fim: lsp-fim.lua needs the lua/ folder beside it: install all of editors/neovim '
      .. 'as a plugin (editors/README.md, Neovim)',
    vim.log.levels.ERROR
  )
  return
end
lsp_fim.setup()
