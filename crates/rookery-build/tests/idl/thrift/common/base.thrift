namespace rs rookery.base
include "types.thrift"     // beside this file: common/types.thrift

service Base {
  types.Text ping(1: types.Text message)
}
