-- Drives Neovim's own LSP client against lsp-fim, for tests/test_neovim.py.
--
-- Run as: nvim --headless --clean --cmd "set rtp^=editors/neovim" --cmd "lua vim.g.lsp_fim = …"
--   -c "luafile tests/nvim/complete_norm.lua"
-- (`-u` would run this before filetype detection is on, and vim.lsp.enable would never attach.)
-- The plugin is installed as a plugin manager does it: its folder on 'runtimepath', so Neovim
-- sources its plugin/lsp_fim.lua at start-up, which sets it up with vim.g.lsp_fim.
--
-- Environment:
--   LSP_FIM_NVIM_RESULT   JSON result file (always written, also on error or time-out)
--   LSP_FIM_NVIM_FILE     the Python file to open (its body line 5 is "    r = ", the cursor at its end, column 8)
--   LSP_FIM_NVIM_TIMEOUT_MS  the whole run's budget; past it the script writes an error and quits
--
-- Phase 1 (blocking, inside this file): attach through vim.lsp.enable, wait for the server's
-- "ready" $/progress, ask textDocument/completion with client:request_sync and apply the item's
-- textEdit with Neovim's own vim.lsp.util.apply_text_edits.
-- Phase 2 (timers, after this file returns and Neovim is in Insert mode): ask through
-- vim.lsp.completion.get() (enabled by the editor configuration), check the item is in the
-- completion menu, accept it with <C-y> and record the buffer; then record :checkhealth lsp_fim.

local result_path = assert(os.getenv('LSP_FIM_NVIM_RESULT'), 'LSP_FIM_NVIM_RESULT not set')
local budget_ms = tonumber(os.getenv('LSP_FIM_NVIM_TIMEOUT_MS') or '') or 270000
local started = vim.uv.hrtime()

local result = { ok = false, phase = 'start', progress = {}, messages = {} }
local finished = false

local function elapsed_ms()
  return math.floor((vim.uv.hrtime() - started) / 1e6)
end

local function remaining_ms()
  return math.max(budget_ms - elapsed_ms(), 0)
end

local function buffer_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, true), '\n') .. '\n'
end

--- Writes the result once and quits; every path out of this script goes through here.
local function finish(error_message)
  if finished then
    return
  end
  finished = true
  result.error = error_message
  result.ok = error_message == nil
  result.elapsed_ms = elapsed_ms()
  local file = assert(io.open(result_path, 'w'))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd('qa!')
end

local function fail(message)
  finish(('%s (phase %s, after %d ms)'):format(message, result.phase, elapsed_ms()))
end

-- The deadline: whatever is blocking or pending, the script ends within its budget.
local deadline = vim.uv.new_timer()
deadline:start(budget_ms, 0, vim.schedule_wrap(function()
  fail('timed out')
end))

local function guarded(fn)
  return function(...)
    local ok, err = xpcall(fn, debug.traceback, ...)
    if not ok then
      fail('Lua error: ' .. tostring(err))
    end
  end
end

--- vim.wait bounded by the remaining budget; fails the run on time-out or if the server exits.
local function wait_for(what, limit_ms, condition)
  local ok = vim.wait(math.min(limit_ms, remaining_ms()), function()
    return result.server_exit ~= nil or condition()
  end, 50)
  if result.server_exit then
    error(('the server exited (code %d, signal %d) while waiting for %s'):format(
      result.server_exit.code, result.server_exit.signal, what), 0)
  end
  if not ok then
    error(('gave up waiting for %s'):format(what), 0)
  end
end

local phase2, stats

local function phase1()
  local path = assert(os.getenv('LSP_FIM_NVIM_FILE'), 'LSP_FIM_NVIM_FILE not set')
  result.nvim_version = tostring(vim.version())

  -- Server messages (window/showMessage) are kept for the report.
  vim.lsp.handlers['window/showMessage'] = function(_, params)
    table.insert(result.messages, params.message)
  end
  vim.api.nvim_create_autocmd('LspProgress', {
    callback = function(event)
      local value = vim.tbl_get(event.data, 'params', 'value') or {}
      table.insert(result.progress, {
        kind = value.kind,
        message = value.message,
        title = value.title,
      })
    end,
  })

  vim.o.showmode = false -- no "-- INSERT --" on stdout
  vim.opt.shortmess:append('c') -- nor "The only match"
  result.plugin_loaded = vim.g.loaded_lsp_fim == true
  vim.lsp.config('lsp_fim', {
    on_exit = function(code, signal)
      result.server_exit = { code = code, signal = signal }
    end,
  })

  result.phase = 'attach'
  vim.cmd.edit(vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[bufnr].filetype
  local client
  wait_for('the lsp_fim client to attach and initialize', 60000, function()
    client = vim.lsp.get_clients({ bufnr = bufnr, name = 'lsp_fim' })[1]
    return client ~= nil and client.initialized
  end)
  result.offset_encoding = client.offset_encoding
  result.completion_provider = client.server_capabilities.completionProvider ~= nil
  result.inline_completion_provider = client.server_capabilities.inlineCompletionProvider ~= nil

  -- What an editor does when it opens a file at start-up: ask at once, while the model loads.
  -- The answer may be empty, but it must come (request_sync would block for its whole timeout).
  result.phase = 'first request'
  local first, first_err = client:request_sync('textDocument/completion', {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    position = { line = 4, character = 8 },
  }, 20000, bufnr)
  result.first_request_answered = first ~= nil and first.err == nil
  result.first_request_error = first_err and tostring(first_err) or nil
  result.document_uri = vim.uri_from_bufnr(bufnr)

  result.phase = 'model load'
  local ready
  wait_for('the model-load $/progress end', remaining_ms(), function()
    for _, report in ipairs(result.progress) do
      if report.kind == 'end' then
        ready = report.message or ''
        return true
      end
    end
    return false
  end)
  result.ready_message = ready
  if not vim.startswith(ready, 'ready') then
    error('model did not load: ' .. ready, 0)
  end

  result.phase = 'request_sync'
  -- The cursor of Insert mode: after "r = " on the body line. (Normal mode cannot
  -- put the cursor past a line's last character, so the position is spelled out; ASCII text,
  -- so the column is the same in every offset encoding.)
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    position = { line = 4, character = 8 },
  }
  result.request_position = params.position
  local response, err =
    client:request_sync('textDocument/completion', params, remaining_ms(), bufnr)
  if not response then
    error('textDocument/completion failed: ' .. tostring(err), 0)
  end
  if response.err then
    error('textDocument/completion error: ' .. vim.inspect(response.err), 0)
  end
  local items = response.result and (response.result.items or response.result) or {}
  result.items = items
  local item = items[1]
  if item and item.textEdit then
    local original = buffer_text(bufnr)
    vim.lsp.util.apply_text_edits({ item.textEdit }, bufnr, client.offset_encoding)
    result.applied_text = buffer_text(bufnr)
    -- Back to the original text for phase 2 (Neovim sends the change to the server).
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, true, vim.split(original:sub(1, -2), '\n'))
  end

  if not vim.lsp.completion or not vim.lsp.completion.get then
    result.menu_skipped = 'vim.lsp.completion.get is missing'
    finish()
    return
  end
  result.phase = 'menu'
  vim.o.completeopt = 'menu,menuone,noinsert'
  -- Column 8 is past the last character: Normal mode stops at it, and startinsert! appends.
  vim.api.nvim_win_set_cursor(0, { 5, 8 })
  vim.cmd.startinsert({ bang = true }) -- takes effect when this file returns
  phase2(bufnr)
end

--- The server's lspFim/stats: its acceptance counts (the plugin reports shown and accepted).
--- The notifications sent before are handled first: the server reads its input in order.
stats = function(bufnr)
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'lsp_fim' })[1]
  local response = client:request_sync('lspFim/stats', vim.empty_dict(), 10000, bufnr)
  return response and response.result
end

phase2 = function(bufnr)
  local asked = false
  local accepted = false
  local menu_deadline = elapsed_ms() + math.min(120000, remaining_ms())
  local poll = vim.uv.new_timer()
  poll:start(100, 100, vim.schedule_wrap(guarded(function()
    if finished then
      poll:stop()
      return
    end
    local mode = vim.api.nvim_get_mode().mode
    if not asked then
      if mode ~= 'i' then
        return
      end
      result.menu_cursor = vim.api.nvim_win_get_cursor(0)
      asked = true
      vim.lsp.completion.get()
      return
    end
    if not accepted then
      local info = vim.fn.complete_info({ 'pum_visible', 'items', 'selected' })
      if info.pum_visible ~= 1 or #info.items == 0 then
        if elapsed_ms() > menu_deadline then
          fail('the completion menu never showed an item')
        end
        return
      end
      result.menu_items = {}
      for _, entry in ipairs(info.items) do
        local lsp_item = vim.tbl_get(entry, 'user_data', 'nvim', 'lsp', 'completion_item') or {}
        table.insert(result.menu_items, {
          word = entry.word,
          abbr = entry.abbr,
          new_text = vim.tbl_get(lsp_item, 'textEdit', 'newText'),
        })
      end
      accepted = true
      result.stats_before_accept = stats(bufnr)
      vim.api.nvim_feedkeys(vim.keycode('<C-y>'), 'n', false)
      return
    end
    -- After <C-y>: the CompleteDone hook from the editor configuration has run.
    if vim.fn.pumvisible() == 1 then
      return
    end
    poll:stop()
    result.menu_accepted_text = buffer_text(bufnr)
    result.stats_after_accept = stats(bufnr)
    vim.cmd.stopinsert()
    result.phase = 'checkhealth'
    vim.cmd.checkhealth('lsp_fim')
    result.health = vim.api.nvim_buf_get_lines(0, 0, -1, true)
    finish()
  end)))
end

guarded(phase1)()
