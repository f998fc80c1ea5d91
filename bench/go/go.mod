module rmicro/bench

go 1.19
