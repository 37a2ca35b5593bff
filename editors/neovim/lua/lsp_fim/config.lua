-- The plugin's options: their defaults, and how a user's table goes over them.

local M = {}

M.defaults = {
  -- How Neovim starts the server; use the absolute path of a virtualenv's lsp-fim if it is not
  -- on $PATH. Add '--log-file', '/tmp/lsp-fim.log' before 'serve' to keep a log.
  cmd = { 'lsp-fim', 'serve' },
  -- Sent as initializationOptions.lspFim and answered to workspace/configuration (section
  -- lspFim). Keys: model, template, maxTokens, maxGenerateMs, prefixTokens, suffixTokens,
  -- scopeStop, threads, enabledLanguages, backend, backendUrl, backendModel, apiKeyEnv (see
  -- editors/README.md). Empty means the server's defaults.
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
  -- Neovim 0.12+: show suggestions as ghost text while typing.
  inline = true,
  -- Neovim 0.12+, Insert mode: accept the whole ghost text, its next word, its next line
  -- (false: no mapping). Each key types itself when no ghost text is shown.
  accept_inline_key = '<Tab>',
  accept_word_key = '<M-Right>',
  accept_line_key = '<M-C-Right>',
}

-- Lists are replaced whole, never merged index by index.
local LISTS = { 'cmd', 'filetypes' }

--- The defaults with `user` over them (`user` may be nil).
--- @param user table?
--- @return table
function M.resolve(user)
  user = user or {}
  vim.validate('options', user, 'table')
  local options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), user)
  for _, key in ipairs(LISTS) do
    if user[key] ~= nil then
      options[key] = user[key]
    end
  end
  return options
end

return M
