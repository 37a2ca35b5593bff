-- Records `:checkhealth lsp_fim` for tests/test_neovim.py, without waiting for any server:
--   nvim --headless --clean --cmd "set rtp^=editors/neovim" --cmd "lua vim.g.lsp_fim = …"
--     FILE -c "luafile tests/nvim/checkhealth.lua"
-- Writes the report's lines as a JSON list to $LSP_FIM_NVIM_RESULT and quits.
local result_path = assert(os.getenv('LSP_FIM_NVIM_RESULT'), 'LSP_FIM_NVIM_RESULT not set')
vim.cmd.checkhealth('lsp_fim')
local file = assert(io.open(result_path, 'w'))
file:write(vim.json.encode(vim.api.nvim_buf_get_lines(0, 0, -1, true)))
file:close()
vim.cmd('qa!')
