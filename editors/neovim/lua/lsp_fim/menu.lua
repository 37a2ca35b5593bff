-- The suggestion in Neovim's completion menu (vim.lsp.completion, Neovim 0.11+).

local M = {}

--- Menu entries from lsp-fim show the suggestion's first line (the server sets
--- detail = 'lsp-fim'); other servers' items are left as Neovim makes them.
--- @param item lsp.CompletionItem
--- @return table
function M.convert(item)
  if item.detail ~= 'lsp-fim' or not item.textEdit then
    return {}
  end
  local first_line = vim.split(item.textEdit.newText, '\n', { plain = true })[1]
  return { word = first_line }
end

--- After <C-y> on an lsp-fim entry, replace the word the menu inserted with the whole suggestion:
--- Neovim on its own inserts only the first word of a plain-text edit.
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
  local report = require('lsp_fim.report')
  local id = report.id_of(lsp_data.completion_item or {})
  if id then
    report.send(client_id, 'accepted', id)
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

--- Completion-menu suggestions for `bufnr` from the client `client_id`.
--- @param bufnr integer
--- @param client_id integer
--- @param menu_key string|false
function M.attach(bufnr, client_id, menu_key)
  vim.lsp.completion.enable(true, client_id, bufnr, { autotrigger = true, convert = M.convert })
  local group = vim.api.nvim_create_augroup('lsp_fim_menu_' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd('CompleteDone', {
    group = group,
    buffer = bufnr,
    callback = function()
      insert_whole_suggestion(bufnr, client_id)
    end,
  })
  vim.api.nvim_create_autocmd('CompleteChanged', {
    group = group,
    buffer = bufnr,
    callback = function()
      require('lsp_fim.report').menu_shown(client_id)
    end,
  })
  if menu_key then
    vim.keymap.set('i', menu_key, vim.lsp.completion.get, {
      buffer = bufnr,
      desc = 'lsp-fim: suggestion in the completion menu',
    })
  end
end

return M
