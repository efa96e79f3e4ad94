// Every type the generator maps, with every requiredness, defaults and constants.
include "shared.thrift"

/** The colours: an open enum, so values from newer peers pass through. */
enum Color {
    RED = 1,
    GREEN = 2,
    /** The sky on a clear day. */
    blueSky = 4,
}

typedef i64 UserId
typedef map<string, list<i32>> Index
typedef shared.Point Coordinate

/** Every primitive, as a default-requiredness field. */
struct Primitives {
    1: bool flag,
    2: byte tiny,
    3: i16 small,
    4: i32 medium,
    5: i64 large,
    6: double real,
    7: string text,
    8: binary blob,
    9: uuid id,
}

/** Required, optional and default fields, with IDL defaults. */
struct Requiredness {
    1: required string name,
    2: optional i32 age,
    3: i32 score = 10,
    4: optional string nickname = "rook",
    5: required Color color = Color.GREEN,
    6: list<string> tags = ["a", "b"],
    7: double ratio = 1.5,
    8: bool enabled = true,
    10: map<string, i32> limits = {"max": 3},
}

/** Lists, sets and maps, nested, with keys that can and cannot be hashed. */
struct Containers {
    1: list<i32> numbers,
    2: set<string> names,
    3: map<string, i64> counts,
    4: list<list<string>> matrix,
    5: map<i32, set<string>> groups,
    6: set<double> reals,
    7: map<double, string> by_real,
    8: list<shared.Point> points,
    9: map<Color, list<shared.Point>> by_color,
    10: set<map<string, i32>> maps,
    11: optional map<string, binary> blobs,
    12: list<binary> chunks,
    13: set<UserId> users,
    14: Index index,
}

/** A struct that holds itself: boxed. */
struct Tree {
    1: string label,
    2: optional Tree left,
    3: Tree right,
    4: list<Tree> children,
}

/** Mutually recursive structs. */
struct Ping {
    1: optional Pong pong,
}

struct Pong {
    1: Ping ping,
}

/** Exactly one of these. */
union Value {
    1: i64 integer,
    2: double real,
    3: string text,
    4: list<Value> list,
    5: shared.Point point,
}

/** A struct with a union field, required and not. */
struct Holder {
    1: required Value required_value,
    2: Value value,
    3: optional Value maybe,
}

exception NotFound {
    1: string message,
    2: i32 code,
}

/** Every kind of type at once, as a nested payload. */
struct Everything {
    1: Primitives primitives,
    2: Containers containers,
    3: optional Tree tree,
    4: Color color,
    5: UserId owner,
    6: Coordinate origin,
    7: shared.Level level,
    8: Value value,
    200: string far_away,
}

/** Names that are Rust keywords or look like the prelude. */
struct Keywords {
    1: string type,
    2: i32 match,
    3: bool self,
    4: string gen,
}

struct Result {
    1: i32 ok,
}

struct Option {
    1: Result result,
}

struct Empty {}

const i32 ANSWER = 42
const string GREETING = "hello"
const binary MAGIC = "rook\n"
const double PI = 3.14159
const bool YES = true
const Color FAVOURITE = Color.blueSky
const UserId ROOT = 0
const list<string> WORDS = ["rook", "bishop"]
const set<i32> PRIMES = [2, 3, 5, 7]
const map<string, Color> COLORS = {"red": Color.RED, "green": Color.GREEN}
const shared.Point ORIGIN = {"x": 0, "y": 0}
const Requiredness DEFAULTS = {"name": "const"}
const Value TEXT_VALUE = {"text": "hi"}
const i32 ALIAS = ANSWER
const i32 FOREIGN = shared.MAX_POINTS
const shared.Level TOP = shared.Level.HIGH
const uuid NIL = "00000000-0000-0000-0000-000000000001"
