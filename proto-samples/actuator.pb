
ç
actuator.protoactuator"l
Actuat
name (	Rname
address (	Raddress
	createdby (	R	createdby
remark (	Rremark"ƒ
Response
code (Rcode
msg (	Rmsg.
	actuators (2.actuator.ActuatR	actuators!
executor_ips (	RexecutorIps2¡
Actuator6
CreateActuator.actuator.Actuat.actuator.Response6
DeleteActuator.actuator.Actuat.actuator.Response6
ChangeActuator.actuator.Actuat.actuator.Response3
GetActuator.actuator.Actuat.actuator.Response8
GetAllExecutorIP.actuator.Actuat.actuator.ResponseB+Z)crocodile/service/actuator/proto/actuatorbproto3