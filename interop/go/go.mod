module rmicro/interop

go 1.19
