-- The plugin's pure parts on Neovim 0.11, for tests/test_neovim.py:
--   nvim --headless --clean --cmd "set rtp^=editors/neovim" -l tests/nvim/units.lua
-- Exits 1 with the failed check on stderr, 0 and "units ok" on stdout when all hold.
-- Ghost text needs Neovim 0.12, so its accept-a-word / accept-a-line logic is checked here on
-- the items 0.12's vim.lsp.inline_completion.get() hands to on_accept (plain tables: 0.11 has
-- no vim.Range).

local function equal(got, want, what)
  if not vim.deep_equal(got, want) then
    error(('%s: got %s, want %s'):format(what, vim.inspect(got), vim.inspect(want)), 0)
  end
end

-- Loaded through 'runtimepath' only: plugin/lsp_fim.lua ran and set the client up.
equal(vim.g.loaded_lsp_fim, true, 'plugin/lsp_fim.lua sourced')
local lsp_fim = require('lsp_fim')
equal(lsp_fim.is_set_up(), true, 'set up at start-up')
equal(vim.lsp.config.lsp_fim.cmd, { 'lsp-fim', 'serve' }, 'default cmd')
-- Empty settings go out as a JSON object ({} would be the list [], refused by the server).
equal(vim.json.encode(vim.lsp.config.lsp_fim.init_options), '{"lspFim":{}}', 'empty settings')

-- setup() again replaces the options, lists whole and settings too.
lsp_fim.setup({ cmd = { 'x', 'serve' }, filetypes = { 'python' }, settings = { maxTokens = 8 } })
lsp_fim.setup({ filetypes = { 'lua' } })
equal(vim.lsp.config.lsp_fim.cmd, { 'lsp-fim', 'serve' }, 'cmd back to its default')
equal(vim.lsp.config.lsp_fim.filetypes, { 'lua' }, 'filetypes replaced')
equal(vim.json.encode(vim.lsp.config.lsp_fim.settings), '{"lspFim":{}}', 'settings replaced')
equal(lsp_fim.options().accept_word_key, '<M-Right>', 'defaults kept')

-- Accept the next word / line of ghost text.
local inline = require('lsp_fim.inline')
equal(inline.next_part('math.sqrt(x)', 'word'), 'math', 'word')
equal(inline.next_part('.sqrt(x)', 'word'), '.', 'punctuation')
equal(inline.next_part('  = 1\n', 'word'), '  =', 'blanks then punctuation')
equal(inline.next_part('r = 1\n    return r', 'line'), 'r = 1', 'line')
equal(inline.next_part('\n    return r\n', 'line'), '\n    return r', 'line break, next line')
equal(inline.next_part('\n    return r', 'word'), '\n    return', 'line break, next word')

local item = { insert_text = 'r = math.hypot(x, y)', range = { start = { row = 4, col = 4 } } }
equal(inline.untyped(item, '    r = ma', { 5, 10 }), 'th.hypot(x, y)', 'typed through')
equal(inline.untyped(item, '    s', { 5, 5 }), nil, 'typed away from it')
equal(inline.untyped(item, '    ', { 4, 4 }), nil, 'another line')
equal(inline.untyped({ insert_text = { kind = 'snippet', value = '$1' } }, '', { 1, 0 }), nil, 'snippet')

-- Insert mode's cursor can stand after a line's last character; so can Normal mode's with this.
vim.o.virtualedit = 'onemore'
local bufnr = vim.api.nvim_create_buf(true, false)
vim.api.nvim_set_current_buf(bufnr)
vim.api.nvim_buf_set_lines(bufnr, 0, -1, true, { 'def norm(x, y):', '    ', '    return r' })
local ghost = { insert_text = 'r = math.hypot(x, y)\n    r += 0', range = { start = { row = 1, col = 4 } } }
vim.api.nvim_win_set_cursor(0, { 2, 4 })
equal(inline.accept_part(bufnr, ghost, 'word'), true, 'word accepted')
equal(vim.api.nvim_get_current_line(), '    r', 'buffer after a word')
equal(vim.api.nvim_win_get_cursor(0), { 2, 5 }, 'cursor after a word')
equal(inline.accept_part(bufnr, ghost, 'line'), true, 'line accepted')
equal(vim.api.nvim_get_current_line(), '    r = math.hypot(x, y)', 'buffer after a line')
equal(inline.accept_part(bufnr, ghost, 'line'), true, 'next line accepted')
equal(vim.api.nvim_buf_get_lines(bufnr, 1, 3, true), { '    r = math.hypot(x, y)', '    r += 0' }, 'two lines')
equal(vim.api.nvim_win_get_cursor(0), { 3, 10 }, 'cursor after the next line')
equal(inline.accept_part(bufnr, ghost, 'word'), false, 'nothing left on the same line')

-- Ghost text is wired only where Neovim has it.
equal(inline.attach(bufnr, 1, lsp_fim.options()), vim.fn.has('nvim-0.12') == 1, '0.12 guard')

-- :checkhealth helpers.
local health = require('lsp_fim.health')
local listing = table.concat({
  '  NAME                     SIZE  CACHED  DESCRIPTION',
  '* qwen2.5-coder-0.5b    469 MiB  yes     Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: fast',
  '  qwen2.5-coder-1.5b    1.0 GiB  no      Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: better',
  "(* default) cache: /root/.cache/lsp-fim/models; fetch one with `lsp-fim model pull NAME`",
}, '\n')
equal(health.parse_model_list(listing), {
  ['qwen2.5-coder-0.5b'] = { cached = true, default = true },
  ['qwen2.5-coder-1.5b'] = { cached = false, default = false },
}, 'model list')
equal({ health.host_port('http://127.0.0.1:8080/v1') }, { '127.0.0.1', 8080 }, 'host and port')
equal({ health.host_port('https://[::1]/v1') }, { '::1', 443 }, 'IPv6, default port')
equal({ health.host_port('gpu-box:8080') }, {}, 'not a URL')

-- The id of a suggestion, for the acceptance statistics.
local report = require('lsp_fim.report')
equal(report.id_of({ data = { lspFimId = 'a-1' } }), 'a-1', 'menu item id')
equal(report.id_of({ command = { command = 'lspFim.completionAccepted', arguments = { 'a-2' } } }),
  'a-2', 'ghost text id')
equal(report.id_of({ command = { command = 'other', arguments = { 'x' } } }), nil, 'not ours')
equal(report.id_of({ label = 'no id' }), nil, 'no id')

io.stdout:write('units ok\n')
