/**
 * Golden fixture: every construct of the Thrift IDL this parser accepts.
 * This comment is the file's doc, because a header follows it.
 */
namespace * switchboard.features
namespace py.twisted switchboard.features.twisted
namespace go switchboard.features (package.prefix = "github.com/example", legacy)
php_namespace SwitchboardFeatures
cpp_include "<unordered_map>"

include "common.thrift"

# A shell-style comment.
// A C++-style comment.
/* A block comment
   over two lines. */

/** An id: typedefs keep their name. */
typedef i64 (js.type = "Long") Id (doc.note = "typedef annotation");
typedef common.Name Label
typedef map<string, list<set<i32>>> Nested
typedef binary Blob,
typedef Label Alias // a typedef of a typedef

/** Enum values: implicit, explicit, negative, hex. */
enum Color {
  RED,                 // 0
  GREEN = 5,
  BLUE,                // 6
  /** Doc on a value. */
  BLACK = -1 (deprecated = "yes"),
  WHITE,               // 0 again, duplicates of values are allowed
  MASK = 0x1F;
  NEG_HEX = -0x10
  MAX = 2147483647
  MIN = -2147483648
} (enum.annotation = "e")

senum Legacy { "a", "b"; 'c' }

const i8 SMALL = -128
const i16 HEX16 = 0x7fff
const i32 PLUS = +1;
const i64 BIG = 9223372036854775807,
const double HALF = .5
const double EXP = 1.5e-3
const double NEG_EXP = -2E+10
const double FROM_INT = 3
const bool YES = true
const bool NO = 0
const string DQ = "double \"quoted\"\t\\ \n"
const string SQ = 'single \'quoted\' "inner"'
const string REGEX = "\d+"
const binary BYTES = "raw"
const uuid UUID = "00000000-0000-4000-8000-00000000abcd"
const Color FAV = Color.BLUE
const Color BARE = GREEN
const Color BY_NUMBER = 5
const i32 COLOR_AS_INT = Color.MASK
const i64 COPY = PLUS
const list<i32> LIST = [1, 2; 3 4,]
const set<string> SET = ["x", "y"]
const set<i32> EMPTY_SET = {}
const map<string, i32> MAP = {"a": 1, "b": 2; "c": 3 "d": 4}
const map<Color, list<string>> ENUM_KEYS = {Color.RED: ["r"], BLUE: []}
const map<string, map<string, i32>> NESTED_MAP = {"outer": {"inner": 1}}
const common.Name SHARED_NAME = common.DEFAULT_NAME
const common.Level SHARED_LEVEL = common.Level.HIGH
const Point ORIGIN = {"x": 0, "y": 0, "label": "origin"}
const list<Point> POINTS = [ORIGIN, {"x": 1, "y": 2}]
const Id ANNOTATED = 7 (const.annotation = "c")

/** A point. */
struct Point {
  /** The x coordinate. */
  1: required i32 x,
  2: required i32 y;
  3: optional string label = "unnamed" (json.name = "lbl")
  4: Color color = Color.RED
  5: list<i32> (python.immutable = "") tags = [],
} (final, cpp.type = "PointT")

struct Implicit {
  i32 first
  string second
  5: i32 explicit
  bool third
  0: i32 zero
}

struct Containers {
  1: Nested nested
  2: map<Color, common.Name> by_color
  3: list<map<i64, set<binary>>> deep
  4: set<Id> ids
  5: optional Point & ref
  6: required list<Point> points = POINTS
  7: map<string, Color> colors = {"fav": FAV}
  8: i8 tiny
  9: byte also_tiny
  10: uuid uid
  11: Alias alias
  12: slist old_string
  13: double ratio = 1
  14: i32 string                // keywords are fine as field names
  15: i32 xsd_like xsd_optional xsd_nillable xsd_attrs { 1: i32 attr }
}

union Choice {
  1: i32 number
  2: string text = "default"
  3: required Point point
} (union.note = "u")

exception Oops {
  1: i32 code
  2: string message
} (error.code = "500")

struct Legacy2 xsd_all {
  1: i32 a
}

/// Services are in services.thrift; this one uses every function form.
/// Doc lines written with /// are joined.
service Features {
  /** Plain call. */
  Point get(1: Id id, 2: optional Color color) throws (1: Oops oops, 2: common.NotFound nf),
  void ping();
  oneway void fire(1: string event)
  async void legacy(1: i32 x)
  list<Point> (hint = "big") all(i32 limit, i32 offset) (http.method = "GET")
  common.Name name()
} (service.annotation = "s")
