// Found next to the including file (sub/), not through the include
// directory; it includes common.thrift through the include directory too.
include "common.thrift"

struct Payload {
  1: binary data
  2: common.Name owner
}

service InnerBase extends common.Base {
  Payload fetch(1: string key) throws (1: common.NotFound nf)
}
