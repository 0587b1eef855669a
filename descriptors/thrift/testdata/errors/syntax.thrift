// Bad fixture: syntax errors; the parser recovers at the next definition
// and reports each.
struct A {
  1: i32 x
  2: i32
}

struct B {
  1: map<string> broken
}

const i32 C = 

enum D {
  X = 1.5
}

service E {
  void f(1: i32 a
}

typedef i32 F
struct G { 1: i32 ok }
garbage here
struct H { 1: i32 ok }
