// Bad fixture: include cycles, through inc/cycle_b.thrift and directly.
include "inc/cycle_b.thrift"
include "cycle_a.thrift"
