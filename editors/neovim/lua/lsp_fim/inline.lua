-- Ghost text (textDocument/inlineCompletion) through vim.lsp.inline_completion, Neovim 0.12+:
-- accept all of it, its next word or its next line.
--
-- Neovim 0.12's get({ on_accept = fn }) hands the shown item to fn instead of inserting it;
-- the part accepted here is inserted at the cursor, and Neovim asks again for the rest (the
-- server's cache answers at once while the buffer still matches the suggestion).

local M = {}

--- The part of the suggestion not in the buffer yet: its text less what was typed between the
--- item's start and the cursor. Nil when the buffer has left the suggestion (or for a snippet).
--- @param item { insert_text: string|table, range?: { start: { row: integer, col: integer } } }
--- @param line string the cursor's line
--- @param cursor integer[] (1,0)-indexed, as nvim_win_get_cursor gives it
--- @return string?
function M.untyped(item, line, cursor)
  local text = item.insert_text
  if type(text) ~= 'string' then
    return nil
  end
  if not item.range then
    return text -- Neovim shows an item without a range at the cursor
  end
  local start = item.range.start
  if start.row ~= cursor[1] - 1 or start.col > cursor[2] then
    return nil
  end
  local typed = line:sub(start.col + 1, cursor[2])
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  return text:sub(#typed + 1)
end

--- The start of `text` that one "accept word" (`unit` 'word': blanks, then a word or a run of
--- punctuation) or "accept line" (`unit` 'line': up to the end of the line; a line break first
--- brings the next line with it) takes.
--- @param text string
--- @param unit 'word'|'line'
--- @return string
function M.next_part(text, unit)
  if unit == 'line' then
    local leading = text:match('^\r?\n') or ''
    local rest = text:sub(#leading + 1)
    return leading .. (rest:match('^[^\r\n]*') or '')
  end
  local part = text:match('^%s*[%w_]+') or text:match('^%s*[^%w_%s]+')
  return part or text
end

--- Inserts the next `unit` of the shown item at the cursor of the current window.
--- @param bufnr integer
--- @param item table vim.lsp.inline_completion.Item
--- @param unit 'word'|'line'
--- @return boolean false when the buffer no longer matches the suggestion
function M.accept_part(bufnr, item, unit)
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
  local rest = M.untyped(item, line, cursor)
  if not rest or rest == '' then
    return false
  end
  local part = M.next_part(rest, unit)
  local lines = vim.split(part, '\n', { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
  local last_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + #lines, last_col })
  local report = require('lsp_fim.report')
  local id = report.id_of(item)
  if id and item.client_id then
    local taken = vim.fn.strchars(item.insert_text) - vim.fn.strchars(rest) + vim.fn.strchars(part)
    report.send(item.client_id, 'partly', id, taken)
  end
  return true
end

--- An expr mapping of `key` in Insert mode: `accept(opts)` when ghost text is shown, else the
--- key itself.
local function map_accept(bufnr, key, opts, desc)
  if not key then
    return
  end
  vim.keymap.set('i', key, function()
    if not vim.lsp.inline_completion.get(opts) then
      return key
    end
  end, { buffer = bufnr, expr = true, desc = desc })
end

--- Ghost text for `bufnr` from the client `client_id`, with the accept keys of `options`.
--- Does nothing before Neovim 0.12 (no vim.lsp.inline_completion).
--- @param bufnr integer
--- @param client_id integer
--- @param options table the plugin's options
--- @return boolean whether ghost text was enabled
function M.attach(bufnr, client_id, options)
  if vim.fn.has('nvim-0.12') == 0 or not options.inline then
    return false
  end
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr, client_id = client_id })
  -- Accepting all of the ghost text runs the item's command: the server counts it.
  vim.lsp.commands['lspFim.completionAccepted'] = function(command, context)
    local id = vim.tbl_get(command, 'arguments', 1)
    if type(id) == 'string' then
      require('lsp_fim.report').send(context.client_id, 'accepted', id)
    end
  end
  map_accept(bufnr, options.accept_inline_key, { bufnr = bufnr }, 'lsp-fim: accept the ghost text')
  local parts = { { options.accept_word_key, 'word' }, { options.accept_line_key, 'line' } }
  for _, part in ipairs(parts) do
    local key, unit = part[1], part[2]
    map_accept(bufnr, key, {
      bufnr = bufnr,
      on_accept = function(item)
        M.accept_part(bufnr, item, unit)
      end,
    }, ('lsp-fim: accept the next %s of the ghost text'):format(unit))
  end
  return true
end

return M
