// calculator.thrift, after the Apache Thrift tutorial.
include "shared.thrift"

enum Operation {
  ADD = 1,
  SUBTRACT = 2,
  MULTIPLY = 3,
  DIVIDE = 4,
}

struct Work {
  1: i32 num1 = 0,
  2: i32 num2,
  3: Operation op,
  4: optional string comment,
}

exception InvalidOperation {
  1: i32 whatOp,
  2: string why,
}

// A message field named message, and an exception with no message field.
exception NotFound {
  1: string message,
  2: i64 id,
}

exception Gone {
  1: i64 since,
}

service Calculator extends shared.SharedService {
  void ping(),
  i32 add(1: i32 num1, 2: i32 num2),
  i32 calculate(1: i32 logid, 2: Work w) throws (1: InvalidOperation ouch),
  oneway void zip(1: string why),
  map<string, i64> stats(1: list<i64> ids),
  string lookup(1: string key) throws (1: NotFound missing, 2: Gone gone),
}
