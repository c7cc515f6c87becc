-- wrk -t2 -c16 -d15s -s bench/wrk/describe.lua http://127.0.0.1:8080/
-- DescribeTrainingJob over a store seeded by `trainyard-bench seed` (names bench-job-000000 …).
local count = tonumber(os.getenv("JOBS") or "10000")
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "SageMaker.DescribeTrainingJob"
request = function()
  counter = counter + 1
  local body = string.format('{"TrainingJobName": "bench-job-%06d"}', (counter * 7919) % count)
  return wrk.format(nil, "/", nil, body)
end
response = function(status, headers, body)
  if status ~= 200 then error("status " .. status) end
end
