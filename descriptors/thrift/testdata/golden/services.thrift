// Services across includes, found through the include directory, with the
// annotations Kitex and Hertz use to bind HTTP routes.
namespace go switchboard.services

include "common.thrift"
include "sub/inner.thrift"

struct HelloReq {
  1: string name (api.query = "name", api.vd = "len($) < 32")
  2: i64 id (api.path = "id")
  3: optional string trace (api.header = "X-Trace-Id")
  4: inner.Payload payload (api.body = "payload")
}

struct HelloResp {
  1: string message (api.body = "message")
  2: common.Level level
}

service Hello extends common.Base {
  HelloResp Hello(1: HelloReq req) (api.get = "/hello/:id")
  HelloResp Create(1: HelloReq req) throws (1: common.NotFound nf) (api.post = "/hello", api.serializer = "json")
}

service Inner extends inner.InnerBase {
  inner.Payload echo(1: inner.Payload p)
}

service Deep extends Hello {
  void deeper()
}
