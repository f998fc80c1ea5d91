-- wrk script: a go-micro style mucp request (spec §10.1) to a stub endpoint.
wrk.method = "POST"
wrk.path = "/"
wrk.body = '{"name":"nightly"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Micro-Endpoint"] = "Job.CreateJob"
wrk.headers["Micro-Method"] = "Job.CreateJob"
wrk.headers["Micro-Service"] = "job"
wrk.headers["Micro-Id"] = "0"
wrk.headers["Timeout"] = "5000000000"
