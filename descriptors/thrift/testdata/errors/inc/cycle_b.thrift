include "../cycle_a.thrift"
