/**
 * Every construct of the Thrift IDL, once: read by tests/thrift_parse.rs and
 * tests/thrift_resolve.rs, which check what each line turns into.
 */
namespace rs rookery.everything
namespace * everything
namespace py everything (python.option = "x", flag)
cpp_include "<vector>"
include "shared.thrift"          // not beside this file: found on the include path (inc/)
include "common/base.thrift"     # found beside this file

/** An id. */
typedef i64 Id
/// A user's id: a typedef of a typedef.
typedef Id UserId
typedef shared.Payload Payload   // a typedef of an included struct
typedef list<map<string, set<UserId>>> (cpp.template = "std::list") Nested (rust.alias = "yes")

const i32 ZERO = 0
const i64 BIG = 0x7FFFFFFFFFFFFFFF;
const i32 NEG = -0x10,
const i16 SHORT = -32768
const byte TINY = 127
const i8 TINY8 = -128
const double RATIO = 2.5
const double AVOGADRO = 6.022e23
const double SMALL = -1.5E-3
const double FROM_INT = 2
const string DOUBLE_QUOTED = "say \"hi\"\n"
const string SINGLE_QUOTED = 'it\'s\t\\'
const bool YES = true
const bool NO = 0
const i32 ALIAS = ZERO
const i64 WIDER = TINY
const Color FAVOURITE = Color.GREEN
const i32 GREEN_NUMBER = Color.GREEN
const shared.Level LEVEL = shared.Level.HIGH
const Color BY_NUMBER = 2
const i32 SHARED_MAX = shared.MAX
const list<string> NAMES = ["a", 'b', DOUBLE_QUOTED]
const set<i32> PRIMES = [2, 3; 5 7]
const map<string, Color> COLORS = {"red": Color.RED, "green": 2}
const map<i32, list<Color>> NESTED = {1: [Color.RED], 2: []}
const Point ORIGIN = {"x": 0, "y": 0}
const Line DIAGONAL = {"start": ORIGIN, "end": {"x": 1, "y": 1}, "label": "d"}
const binary MAGIC = "rook"
const uuid NIL = "00000000-0000-0000-0000-000000000000"
const UserId ROOT_USER = 1
const i32 LATER = DEFINED_BELOW
const i32 DEFINED_BELOW = 42

enum Color {
  RED = 1,
  GREEN,
  BLUE = 0x10;
  /** After an explicit value. */
  VIOLET
  NEGATIVE = -5 (deprecated = "use RED")
  AFTER_NEGATIVE
} (rust.repr = "open")

enum Empty {}

/// A point.
///
///   On a plane.
struct Point {
  1: required i32 x
  2: required i32 y = 0
} (rust.derive = "Copy")

struct Line {
  1: Point start,
  2: Point end;
  /** Shown beside the line. */
  3: optional string label = "line" (doc.note = "shown")
}

struct Defaults {
  1: bool b = true
  2: i8 byte_field = -1
  3: i16 s = 0x7fff
  4: double d = 1e-3
  5: string text = 'quoted "text"'
  6: binary blob = "blob"
  7: uuid id = "{00112233-4455-6677-8899-AABBCCDDEEFF}"
  8: list<i32> (cpp.template = "std::vector") numbers = [1, 2, 3]
  9: map<string, list<Point>> shapes = {"triangle": [{"x": 0, "y": 0}, ORIGIN]}
  10: Color color = Color.BLUE
  11: UserId user = ROOT_USER
  12: shared.Payload payload = {"body": "x"}
  13: set<binary> empty_set = {}
  14: Payload aliased
  15: Nested nested
  16: byte legacy_byte
  17: i32 type
  18: string list
}

struct NoIds {
  string first
  i32 second
  3: i32 third
}

union Shape {
  1: Point point
  2: Line line
}

exception NotFound {
  1: string message
  2: Id id
} (rust.error = "true")

service Store extends base.Base {
  /** Gets a payload. */
  Payload get(1: Id id, 2: bool fresh = false) throws (1: NotFound missing, 2: shared.SharedError failed),
  void put(1: required Payload payload);
  oneway void forget(1: Id id)
  list<Point> (cpp.template = "std::list") points() (rust.name = "all_points")
  map<Color, set<UserId>> index(1: map<Color, list<UserId>> by_color) throws ()
}

service Plain {}

service Child extends Store {
  void child()
}
