
Š
	job.protojob"Ø
Task
id (	Rid
name (	Rname
cronexpr (	Rcronexpr
command (	Rcommand
timeout (Rtimeout
run (Rrun
	createdby (	R	createdby
hosts (	Rhosts
remark	 (	Rremark"Q
Response
code (Rcode
msg (	Rmsg
tasks (2	.job.TaskRtasks2ž
Job%
	CreateJob	.job.Task.job.Response%
	DeleteJob	.job.Task.job.Response%
	ChangeJob	.job.Task.job.Response"
GetJob	.job.Task.job.ResponseB!Zcrocodile/service/job/proto/jobbproto3