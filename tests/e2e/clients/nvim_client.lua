-- What Neovim plugins built on plenary.curl do: run the curl tool as a job (here vim.fn.system,
-- Neovim's own process API), headers dumped to a file, the body on stdout.
-- Usage: NV_URL=... NV_BODY=... NV_OUT=file nvim --headless --clean -c "luafile nvim_client.lua"
local url, body, out = vim.env.NV_URL, vim.env.NV_BODY, vim.env.NV_OUT
local result = vim.fn.system({"curl", "-sSL", "--compressed", "-D", out .. ".headers", "-X", "POST", url,
                              "-H", "Content-Type: application/json", "-d", body})
local cache = "none"
for _, line in ipairs(vim.fn.readfile(out .. ".headers")) do
  local v = line:match("^[Xx]%-[Ll][Ll][Mm][Ss]him%-[Cc]ache: (%w+)")
  if v then cache = v end
end
vim.fn.writefile({"exit " .. vim.v.shell_error .. " cache " .. cache, result}, out)
vim.cmd("qall!")
