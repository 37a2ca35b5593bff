-- lsp-fim for Neovim 0.11+: fill-in-the-middle suggestions from a local model, through the
-- built-in LSP client (vim.lsp.config / vim.lsp.enable).
--
-- plugin/lsp_fim.lua calls setup() at start-up with `vim.g.lsp_fim`; calling
-- require('lsp_fim').setup({ ... }) yourself (lazy.nvim's `opts` does) sets other options.
-- What you get:
--   * Neovim 0.11: the suggestion in the completion menu. <C-Space> asks for it, <C-y> accepts
--     the whole (possibly multi-line) suggestion.
--   * Neovim 0.12+: ghost text too (textDocument/inlineCompletion); <Tab> accepts it, <M-Right>
--     its next word, <M-C-Right> its next line; each key is itself when nothing is shown.
-- The model loads in the background after start-up (see :lua =vim.lsp.status()); until it is
-- ready the server answers with no suggestion rather than making you wait.
-- :checkhealth lsp_fim says what is missing when nothing appears.

local M = {}

local options ---@type table?

--- The options in force: those of the last setup(), else `vim.g.lsp_fim` over the defaults.
--- @return table
function M.options()
  return options or require('lsp_fim.config').resolve(vim.g.lsp_fim)
end

--- Whether setup() has run.
--- @return boolean
function M.is_set_up()
  return options ~= nil
end

--- Menu suggestions and, on 0.12+, ghost text for each buffer the server attaches to.
local function on_attach(event)
  local client = vim.lsp.get_client_by_id(event.data.client_id)
  if not client or client.name ~= 'lsp_fim' then
    return
  end
  local current = M.options()
  require('lsp_fim.menu').attach(event.buf, client.id, current.menu_key)
  require('lsp_fim.inline').attach(event.buf, client.id, current)
end

--- Configures and enables the `lsp_fim` client. Calling it again replaces the options (and
--- what vim.lsp.config('lsp_fim', …) added before: add such things after setup()).
--- @param user table? options over the defaults (see lua/lsp_fim/config.lua); nil: `vim.g.lsp_fim`
function M.setup(user)
  options = require('lsp_fim.config').resolve(user or vim.g.lsp_fim)
  -- An empty Lua table goes out as a JSON list, which the server refuses as settings.
  local settings = next(options.settings) and options.settings or vim.empty_dict()
  -- Assigned, not merged into what an earlier setup() left: its settings would stay.
  vim.lsp.config.lsp_fim = {
    cmd = options.cmd,
    filetypes = options.filetypes,
    -- Without any marker the server still starts, for the single file.
    root_markers = { '.git', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml', '.hg' },
    init_options = { lspFim = settings },
    settings = { lspFim = settings },
  }
  vim.lsp.enable('lsp_fim')
  vim.api.nvim_create_autocmd('LspAttach', {
    group = vim.api.nvim_create_augroup('lsp_fim', { clear = true }),
    callback = on_attach,
  })
end

return M
