// The payload of the codec benchmark: a nested struct with strings, lists and maps, the shape
// of a typical RPC message. The same IDL feeds rookery's generator and pilota (Volo's).
namespace rs codec

struct Address {
    1: string street,
    2: string city,
    3: string country,
    4: i32 zip,
}

struct Item {
    1: i64 id,
    2: string name,
    3: double price,
    4: i32 quantity,
    5: list<string> tags,
    6: map<string, string> attributes,
}

struct Order {
    1: i64 id,
    2: string customer,
    3: string email,
    4: Address shipping,
    5: list<Item> items,
    6: map<string, i64> counters,
    7: list<i64> history,
    8: bool paid,
    9: binary note,
}

service CodecBench {
    Order roundtrip(1: Order order),
}
