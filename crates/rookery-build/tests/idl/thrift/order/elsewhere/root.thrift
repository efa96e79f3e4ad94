include "pick.thrift"      // not beside this file: the first include directory that has it
const string FROM = pick.WHERE
