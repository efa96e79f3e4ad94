include "nowhere.thrift"
include "../inc/shared.thrift"
include "also/missing.thrift"
