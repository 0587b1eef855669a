/**
 * The Thrift demo service, after Apache Thrift's tutorial: the gateway
 * parses this file at start and speaks the wire protocol itself; nothing is
 * generated. Routes come from the CloudWeGo-style api.* annotations, and
 * functions without one are served at POST /Calculator/<function>.
 */
include "shared.thrift"

namespace go calculator
namespace * example.calculator

typedef i32 MyInteger

const i32 INT32CONSTANT = 9853
const map<string, string> MAPCONSTANT = {'hello': 'world', 'goodnight': 'moon'}

enum Operation {
  ADD = 1,
  SUBTRACT = 2,
  MULTIPLY = 3,
  DIVIDE = 4
}

struct Work {
  1: i32 num1 = 0,
  2: i32 num2,
  3: Operation op,
  4: optional string comment,
}

struct CalculateRequest {
  1: i32 logid (api.path = "logid")
  2: Work w (api.body = "w")
  3: optional string trace (api.header = "X-Trace")
}

/** Raised for a bad operation, e.g. a division by zero. */
exception InvalidOperation {
  1: i32 whatOp,
  2: string why
} (http.status = "422")

struct Stats {
  1: i64 calls
  2: map<Operation, i64> by_op
  3: list<double> recent
  4: set<string> tags
  5: binary fingerprint
}

service Calculator extends shared.SharedService {
  void ping() (api.get = "/v1/ping"),

  i32 add(1: i32 num1, 2: i32 num2),

  i64 add64(1: i64 num1, 2: i64 num2) (api.get = "/v1/add64"),

  i32 calculate(1: CalculateRequest req) throws (1: InvalidOperation ouch) (api.post = "/v1/calculate/:logid"),

  Stats stats(),

  oneway void zip() (api.post = "/v1/zip")
}
