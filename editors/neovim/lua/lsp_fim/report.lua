-- What became of a suggestion, told to the server for its local acceptance statistics
-- (lspFim/didShowCompletion, lspFim/didAcceptCompletion, lspFim/didPartiallyAcceptCompletion;
-- counts only, kept on this machine; the server setting `acceptanceStats` turns them off, and
-- then its items carry no id and nothing is sent).

local M = {}

local ACCEPT_COMMAND = 'lspFim.completionAccepted'

--- The id the server gave an item: a menu item's `data.lspFimId`, ghost text's command argument.
--- @param item table an LSP CompletionItem or InlineCompletionItem
--- @return string?
function M.id_of(item)
  local id = vim.tbl_get(item, 'data', 'lspFimId')
  if type(id) ~= 'string' and vim.tbl_get(item, 'command', 'command') == ACCEPT_COMMAND then
    id = vim.tbl_get(item, 'command', 'arguments', 1)
  end
  return type(id) == 'string' and id or nil
end

--- @param client_id integer
--- @param method 'shown'|'accepted'|'partly'
--- @param id string
--- @param accepted_length integer? for 'partly': characters taken from its start so far
function M.send(client_id, method, id, accepted_length)
  local client = vim.lsp.get_client_by_id(client_id)
  if not client then
    return
  end
  local names = {
    shown = 'lspFim/didShowCompletion',
    accepted = 'lspFim/didAcceptCompletion',
    partly = 'lspFim/didPartiallyAcceptCompletion',
  }
  client:notify(names[method], { id = id, acceptedLength = accepted_length })
end

--- Reports each lsp-fim item of the completion menu now on screen as shown (the server counts
--- an item once, however often the menu is redrawn).
--- @param client_id integer
function M.menu_shown(client_id)
  for _, entry in ipairs(vim.fn.complete_info({ 'items' }).items or {}) do
    local lsp_data = vim.tbl_get(entry, 'user_data', 'nvim', 'lsp')
    if type(lsp_data) == 'table' and lsp_data.client_id == client_id then
      local id = M.id_of(lsp_data.completion_item or {})
      if id then
        M.send(client_id, 'shown', id)
      end
    end
  end
end

return M
