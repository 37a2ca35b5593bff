-- lsp-fim for Neovim 0.11+: fill-in-the-middle suggestions from a local model.
--
-- Install: copy this file to ~/.config/nvim/plugin/lsp-fim.lua (Neovim sources it at start-up),
-- or `dofile('/path/to/lsp-fim/editors/neovim/lsp-fim.lua')` from your init.lua.
-- Options go in `vim.g.lsp_fim` *before* this file runs, for example:
--
--   vim.g.lsp_fim = {
--     cmd = { vim.fn.expand('~/src/lsp-fim/.venv/bin/lsp-fim'), 'serve' },
--     settings = { maxTokens = 64, enabledLanguages = { 'python', 'lua' } },
--   }
--
-- Anything else can be changed afterwards with `vim.lsp.config('lsp_fim', { ... })`.
--
-- What you get:
--   * Neovim 0.11: the suggestion in the completion menu. <C-Space> asks for it, <C-y> accepts.
--     Accepting inserts the whole (possibly multi-line) suggestion; Neovim on its own would only
--     insert the first word of a plain-text edit, hence the CompleteDone hook below.
--   * Neovim 0.12+: ghost text too (textDocument/inlineCompletion); <Tab> accepts it and types a
--     <Tab> when nothing is shown.
-- The model loads in the background after start-up (see :lua =vim.lsp.status()); until it is
-- ready the server answers with no suggestion rather than making you wait.

local defaults = {
  -- How Neovim starts the server; use the absolute path of a virtualenv's lsp-fim if it is not
  -- on $PATH. Add '--log-file', '/tmp/lsp-fim.log' before 'serve' to keep a log.
  cmd = { 'lsp-fim', 'serve' },
  -- Sent as initializationOptions.lspFim and answered to workspace/configuration (section
  -- lspFim). Keys: model, template, maxTokens, maxGenerateMs, prefixTokens, suffixTokens,
  -- scopeStop, threads, enabledLanguages, backend (see editors/README.md). Empty means the
  -- server's defaults.
  settings = {},
  -- Buffers the server attaches to (Neovim sends the filetype as the languageId; the server
  -- falls back on the file extension for names it does not know, e.g. 'cs').
  filetypes = {
    'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'rust',
    'c', 'cpp', 'cs', 'java', 'kotlin', 'scala', 'swift', 'dart', 'zig', 'lua', 'ruby', 'perl',
    'php', 'r', 'julia', 'haskell', 'elixir', 'sql', 'sh', 'bash', 'zsh', 'html', 'vue',
    'svelte', 'css', 'scss', 'less', 'json', 'jsonc', 'yaml', 'toml',
  },
  -- Insert-mode key that asks for a suggestion in the completion menu (false: no mapping).
  menu_key = '<C-Space>',
  -- Insert-mode key that accepts the ghost text on Neovim 0.12+ (false: no mapping).
  accept_inline_key = '<Tab>',
  -- Neovim 0.12+: show suggestions as ghost text while typing.
  inline = true,
}

local options = vim.tbl_deep_extend('force', defaults, vim.g.lsp_fim or {})
-- Lists are replaced, never merged index by index.
for _, key in ipairs({ 'cmd', 'filetypes' }) do
  if vim.g.lsp_fim and vim.g.lsp_fim[key] then
    options[key] = vim.g.lsp_fim[key]
  end
end

vim.lsp.config('lsp_fim', {
  cmd = options.cmd,
  filetypes = options.filetypes,
  -- Without any marker the server still starts, for the single file.
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml', '.hg' },
  init_options = { lspFim = options.settings },
  settings = { lspFim = options.settings },
})
vim.lsp.enable('lsp_fim')

--- Menu entries from lsp-fim show the suggestion's first line (the server sets
--- detail = 'lsp-fim'); other servers' items are left as Neovim makes them.
--- @param item lsp.CompletionItem
--- @return table
local function convert(item)
  if item.detail ~= 'lsp-fim' or not item.textEdit then
    return {}
  end
  local first_line = vim.split(item.textEdit.newText, '\n', { plain = true })[1]
  return { word = first_line }
end

--- After <C-y> on an lsp-fim entry, replace the word the menu inserted with the whole suggestion.
--- @param bufnr integer
--- @param client_id integer
local function insert_whole_suggestion(bufnr, client_id)
  if vim.v.event.reason ~= 'accept' then
    return
  end
  local done = vim.v.completed_item
  local lsp_data = vim.tbl_get(done, 'user_data', 'nvim', 'lsp')
  if type(lsp_data) ~= 'table' or lsp_data.client_id ~= client_id then
    return
  end
  local edit = vim.tbl_get(lsp_data, 'completion_item', 'textEdit')
  local word = done.word or ''
  if type(edit) ~= 'table' or type(edit.newText) ~= 'string' or edit.newText == word then
    return
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  row = row - 1
  local start_col = col - #word
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
  if start_col < 0 or line:sub(start_col + 1, col) ~= word then
    return -- the buffer is not what the menu left there: leave it alone
  end
  local lines = vim.split(edit.newText, '\n', { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, start_col, row, col, lines)
  local last_col = (#lines == 1 and start_col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + #lines, last_col })
end

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('lsp_fim', { clear = true }),
  callback = function(event)
    local client = vim.lsp.get_client_by_id(event.data.client_id)
    if not client or client.name ~= 'lsp_fim' then
      return
    end
    local bufnr = event.buf

    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true, convert = convert })
    vim.api.nvim_create_autocmd('CompleteDone', {
      group = vim.api.nvim_create_augroup('lsp_fim_menu_' .. bufnr, { clear = true }),
      buffer = bufnr,
      callback = function()
        insert_whole_suggestion(bufnr, client.id)
      end,
    })
    if options.menu_key then
      vim.keymap.set('i', options.menu_key, vim.lsp.completion.get, {
        buffer = bufnr,
        desc = 'lsp-fim: suggestion in the completion menu',
      })
    end

    -- Neovim 0.12+: ghost text.
    local inline = vim.lsp.inline_completion
    if options.inline and inline and inline.enable then
      inline.enable(true, { bufnr = bufnr, client_id = client.id })
      if options.accept_inline_key then
        local key = options.accept_inline_key
        vim.keymap.set('i', key, function()
          if not inline.get() then
            return key
          end
        end, { buffer = bufnr, expr = true, desc = 'lsp-fim: accept the ghost text' })
      end
    end
  end,
})
