include "../inc/shared.thrift"

struct Order {
  1: Customer customer
  2: shared.Paylod payload
  3: nope.Thing thing
  4: list<map<string, Missing>> nested
  5: Payload unqualified
}
