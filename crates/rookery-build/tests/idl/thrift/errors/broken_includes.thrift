include "broken_one.thrift"
include "broken_two.thrift"
