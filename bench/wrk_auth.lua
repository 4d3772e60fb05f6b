-- wrk -s bench/wrk_auth.lua: sends the API key in GLOOFT_BENCH_KEY as a Bearer credential
local key = os.getenv("GLOOFT_BENCH_KEY")
if key then
  wrk.headers["Authorization"] = "Bearer " .. key
end
