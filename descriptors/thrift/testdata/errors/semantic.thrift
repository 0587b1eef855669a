// Bad fixture: many semantic errors in one file, all reported together.
include "inc/good.thrift"

typedef Missing Alias                       // undefined type
typedef Loop1 Loop2                         // typedef cycle
typedef Loop2 Loop1
typedef good.Thing GoodThing                // fine
typedef nope.Thing NoPrefix                 // no include named nope

const i32 NOT_A_NUMBER = "seven"            // string into i32
const i8 TOO_BIG = 128                      // out of range for i8
const i16 TOO_SMALL = -32769                // out of range for i16
const i32 HEX_TOO_BIG = 0x80000000          // out of range for i32
const bool MAYBE = 2                        // not a bool
const string NUMBER = 5                     // not a string
const list<i32> MIXED = [1, "two", 3]       // one bad element
const map<string, i32> BAD_MAP = {1: 2}     // bad key
const Color NO_SUCH = Color.PURPLE          // undefined enum value
const Color OUT_OF_ENUM = 42                // no such value
const i32 UNDEFINED_REF = NOWHERE           // undefined constant
const i32 SELF1 = SELF2                     // constant cycle
const i32 SELF2 = SELF1
const Point BAD_POINT = {"x": 1, "w": 2}    // no field w
const uuid BAD_UUID = "not-a-uuid"
const void NOTHING = 1                      // void constant
const i32 NOT_A_NUMBER = 1                  // duplicate constant

enum Color {
  RED
  GREEN
  RED                                       // duplicate value name
}

struct Point {
  1: i32 x
  2: i32 y
  2: i32 z                                  // duplicate id
  3: string x                               // duplicate name
  4: void nothing                           // void field
  5: list<void> nothings                    // void element
  6: Undefined u                            // undefined type
  7: i8 small = 300                         // default out of range
  8: Service svc                            // a service is not a type
  9: Strings legacy                         // a senum is not a type
  40000: i32 huge                           // id out of range
}

senum Strings { "a" }

struct Point {                              // duplicate definition
  1: i32 x
}

union Either {
  1: i32 a = 1
  2: i32 b = 2                              // two defaults in a union
}

exception Boom {
  1: string why
}

service Service extends Point {             // extends a struct
  void f()
  void f()                                  // duplicate method
  oneway i32 g()                            // oneway returning a value
  oneway void h() throws (1: Boom b)        // oneway throwing
  void i() throws (1: Point p)              // throws a non-exception
  void j(1: i32 a, 1: i32 b)                // duplicate argument id
  Nothing k()                               // undefined return type
}

service Other extends good.Missing {}       // undefined parent
service Cycle1 extends Cycle2 {}            // inheritance cycle
service Cycle2 extends Cycle1 {}
