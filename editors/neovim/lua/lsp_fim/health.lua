-- :checkhealth lsp_fim — what stands between the user and a suggestion, each failure with the
-- command that fixes it: the server executable and its version, the model, the engine of an
-- HTTP backend, the filetypes the plugin attaches to, the client of the buffer being edited.

local health = vim.health
local M = {}

local COMMAND_TIMEOUT_MS = 10000
local CONNECT_TIMEOUT_MS = 3000
local HTTP_BACKENDS = { ['llama-server'] = 'http://127.0.0.1:8080', openai = false }
local SETUP_HINT = "require('lsp_fim').setup({ cmd = { '/path/to/lsp-fim/.venv/bin/lsp-fim', "
  .. "'serve' } }) (or vim.g.lsp_fim = { cmd = … } before the plugin loads)"

--- The command line before `serve` (the executable and the global flags), to run the CLI's
--- other commands the way the editor runs the server; nil when the server is not a command.
--- @param cmd string[]|function
--- @return string[]?
local function cli_of(cmd)
  if type(cmd) ~= 'table' or #cmd == 0 then
    return nil
  end
  local serve = vim.fn.index(cmd, 'serve')
  return vim.list_slice(cmd, 1, serve >= 0 and serve or #cmd)
end

--- Runs the CLI with `args`; its stdout, or nil and why it failed.
--- @param cli string[]
--- @param args string[]
--- @return string?, string?
local function run(cli, args)
  local command = vim.list_extend(vim.list_slice(cli), args)
  local ok, process = pcall(vim.system, command, { text = true })
  if not ok then
    return nil, tostring(process)
  end
  local done = process:wait(COMMAND_TIMEOUT_MS)
  if done.code ~= 0 then
    local said = vim.trim((done.stderr or '') .. (done.stdout or ''))
    return nil, ('`%s` exited with %d: %s'):format(table.concat(command, ' '), done.code, said)
  end
  return done.stdout or ''
end

--- The server's executable and version. Returns the CLI when it runs.
--- @param options table
--- @return string[]?
local function check_server(options)
  health.start('lsp-fim: server')
  local cli = cli_of(options.cmd)
  if not cli then
    health.info('cmd is not a command line (a function such as vim.lsp.rpc.connect): not checked')
    return nil
  end
  local executable = vim.fn.exepath(cli[1])
  if executable == '' then
    local message = ('server executable `%s` not found (cmd = %s)'):format(
      cli[1],
      vim.inspect(options.cmd)
    )
    health.error(message, {
      'Install it: python3 -m venv .venv && .venv/bin/pip install . (in a clone of lsp-fim)',
      'or give its absolute path: ' .. SETUP_HINT,
    })
    return nil
  end
  local version, why = run(cli, { '--version' })
  if not version then
    health.error(('`%s --version` failed: %s'):format(executable, why), {
      'Reinstall it: .venv/bin/pip install . (in the clone), or point cmd at a working one: '
        .. SETUP_HINT,
    })
    return nil
  end
  health.ok(('%s (%s)'):format(vim.trim(version), executable))
  return cli
end

--- The `model` the server will load: the setting, a `--model` flag of cmd, $LSP_FIM_MODEL;
--- nil for the server's default.
--- @param options table
--- @return string?
local function configured_model(options)
  local model = options.settings.model
  if type(options.cmd) == 'table' then
    local flag = vim.fn.index(options.cmd, '--model')
    if model == nil and flag >= 0 then
      model = options.cmd[flag + 2]
    end
  end
  if model == nil or model == vim.NIL or model == '' then
    model = vim.env.LSP_FIM_MODEL
  end
  return (model ~= nil and model ~= '') and model or nil
end

--- Known models from `lsp-fim model list`: name -> { cached, default }.
--- @param listing string
--- @return table<string, { cached: boolean, default: boolean }>
function M.parse_model_list(listing)
  local known = {}
  for line in vim.gsplit(listing, '\n', { plain = true }) do
    local star, name, cached = line:match('^(.)%s+(%S+)%s+[%d.]+%s+%a+%s+(%a+)%s')
    if name and name ~= 'NAME' then
      known[name] = { cached = cached == 'yes', default = star == '*' }
    end
  end
  return known
end

--- A model that is a file path: is it there?
local function check_model_file(model)
  local path = vim.fs.normalize(model)
  if vim.fn.filereadable(path) == 1 then
    health.ok(('model file %s'):format(path))
  else
    health.error(('model file %s does not exist'):format(path), {
      "Give the path of a .gguf file, or a known name: require('lsp_fim').setup({ settings = "
        .. "{ model = 'qwen2.5-coder-0.5b' } })",
    })
  end
end

--- The model is cached (a known model is renamed into the cache only once its sha256 matched).
--- @param cli string[]?
--- @param options table
local function check_model(cli, options)
  health.start('lsp-fim: model')
  local backend = options.settings.backend
  if HTTP_BACKENDS[backend] ~= nil then
    health.info(('backend %s: the engine serves its own model'):format(backend))
    return
  end
  local model = configured_model(options)
  if model and (model:find('^[/.~]') or model:find('%.gguf$')) then
    check_model_file(model)
    return
  end
  if not cli then
    health.warn('not checked: the server command does not run (see above)')
    return
  end
  local listing, why = run(cli, { 'model', 'list' })
  if not listing then
    health.error('`lsp-fim model list` failed: ' .. why)
    return
  end
  local known = M.parse_model_list(listing)
  if not model then
    for name, state in pairs(known) do
      model = state.default and name or model
    end
  end
  local state = model and known[model]
  if not state then
    health.info(('model %s is not a known name: the server fetches it from Hugging Face on its '
      .. 'first start (pip install "lsp-fim[hub]")'):format(tostring(model)))
  elseif state.cached then
    health.ok(('model %s cached, its sha256 checked when it was downloaded'):format(model))
  else
    health.error(('model %s is not downloaded'):format(model), {
      ('Run: %s model pull %s'):format(table.concat(cli, ' '), model),
    })
  end
end

--- Host and port of an http(s) URL.
--- @param url string
--- @return string?, integer?
function M.host_port(url)
  local scheme, authority = url:match('^(%a+)://([^/]+)')
  if not scheme then
    return nil
  end
  local host, port = authority:match('^%[(.+)%]:?(%d*)$')
  if not host then
    host, port = authority:match('^([^:]+):?(%d*)$')
  end
  port = tonumber(port) or (scheme == 'https' and 443 or 80)
  return host, port
end

--- Whether a TCP connection to host:port opens within CONNECT_TIMEOUT_MS; nil and why if not.
--- @return boolean, string?
local function connects(host, port)
  local addresses = vim.uv.getaddrinfo(host, tostring(port), { socktype = 'stream' })
  if not addresses or #addresses == 0 then
    return false, 'cannot resolve ' .. host
  end
  local tcp = assert(vim.uv.new_tcp())
  local outcome ---@type string?
  tcp:connect(addresses[1].addr, port, function(err)
    outcome = err or 'connected'
  end)
  vim.wait(CONNECT_TIMEOUT_MS, function()
    return outcome ~= nil
  end, 20)
  tcp:close()
  if outcome == 'connected' then
    return true
  end
  return false, outcome or ('no answer in %d ms'):format(CONNECT_TIMEOUT_MS)
end

--- For an HTTP backend: does its engine's port answer?
--- @param options table
local function check_engine(options)
  local backend = options.settings.backend
  local default_url = HTTP_BACKENDS[backend]
  if default_url == nil then
    return
  end
  health.start('lsp-fim: engine')
  local url = options.settings.backendUrl or default_url
  if not url then
    health.error(('backend %s needs backendUrl'):format(backend), {
      "Set it: require('lsp_fim').setup({ settings = { backend = '" .. backend
        .. "', backendUrl = 'http://127.0.0.1:8080/v1' } })",
    })
    return
  end
  local host, port = M.host_port(url)
  if not host then
    health.error(('backendUrl %s is not an http:// or https:// address'):format(url))
    return
  end
  local ok, why = connects(host, port)
  if ok then
    health.ok(('%s engine listening at %s'):format(backend, url))
  else
    health.error(('%s engine at %s not reachable: %s'):format(backend, url, why), {
      'Start it (e.g. llama-server -m MODEL.gguf --port ' .. port .. '), or fix backendUrl',
    })
  end
end

--- The buffer the user was in: :checkhealth shows its report in a new buffer, and the one it
--- came from is the alternate buffer.
--- @return integer?
local function edited_buffer()
  local bufnr = vim.fn.bufnr('#')
  return bufnr > 0 and vim.api.nvim_buf_is_valid(bufnr) and bufnr or nil
end

--- The filetypes the plugin attaches to, what the server completes, how suggestions show.
--- @param options table
local function check_languages(options)
  health.start('lsp-fim: languages')
  local filetypes = table.concat(options.filetypes, ', ')
  health.ok(('attaches to %d filetypes: %s'):format(#options.filetypes, filetypes))
  local enabled = options.settings.enabledLanguages
  if type(enabled) == 'table' then
    health.info(('the server completes only in: %s (enabledLanguages)'):format(
      table.concat(enabled, ', ')
    ))
  end
  if vim.fn.has('nvim-0.12') == 1 and options.inline then
    local keys = { options.accept_inline_key, options.accept_word_key, options.accept_line_key }
    health.ok('ghost text on (Neovim 0.12+): accept all, a word, a line with '
      .. table.concat(vim.tbl_map(tostring, keys), ', '))
  else
    health.info('suggestions in the completion menu (' .. tostring(options.menu_key)
      .. '); ghost text needs Neovim 0.12')
  end
end

--- The client of the buffer the user came from, or why there is none.
--- @param options table
local function check_client(options)
  local bufnr = edited_buffer()
  if not bufnr then
    return
  end
  health.start('lsp-fim: this buffer')
  local name = vim.api.nvim_buf_get_name(bufnr)
  local filetype = vim.bo[bufnr].filetype
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'lsp_fim' })[1]
  local enabled = options.settings.enabledLanguages
  if type(enabled) == 'table' and not vim.tbl_contains(enabled, filetype) then
    local message = ('%s: the server does not complete "%s" (enabledLanguages)'):format(
      name,
      filetype
    )
    health.warn(message, {
      ("Add it: require('lsp_fim').setup({ settings = { enabledLanguages = { …, '%s' } } })")
        :format(filetype),
    })
  end
  if client then
    health.ok(('client %d attached to %s (%s), position encoding %s'):format(
      client.id, name, filetype, client.offset_encoding))
  elseif not vim.tbl_contains(options.filetypes, filetype) then
    health.info(('%s: filetype "%s" is not one lsp-fim attaches to (add it to filetypes: '
      .. "require('lsp_fim').setup({ filetypes = { …, '%s' } }))")
      :format(name, filetype, filetype))
  else
    health.error(('no lsp_fim client attached to %s (%s)'):format(name, filetype), {
      'See why the server did not start: :LspLog, and :checkhealth vim.lsp',
    })
  end
end

function M.check()
  local options = require('lsp_fim').options()
  local cli = check_server(options)
  check_model(cli, options)
  check_engine(options)
  check_languages(options)
  check_client(options)
end

return M
