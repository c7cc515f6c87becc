-- wrk -t2 -c16 -d15s -s bench/wrk/list.lua http://127.0.0.1:8080/
-- ListTrainingJobs first pages (MaxResults 100) over 10,000 stored jobs, with a filter now and then.
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "SageMaker.ListTrainingJobs"
request = function()
  counter = counter + 1
  local body
  if counter % 2 == 0 then body = '{"MaxResults": 100}' else body = '{"MaxResults": 100, "StatusEquals": "Failed", "SortBy": "Name"}' end
  return wrk.format(nil, "/", nil, body)
end
