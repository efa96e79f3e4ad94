include "pick.thrift"      // beside this file, in both include directories too
include "only_b.thrift"    // in the second include directory only
const string FROM = pick.WHERE
