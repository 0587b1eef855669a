// Shared types for the calculator demo, included as "shared".
namespace go shared
namespace java com.example.shared

struct SharedStruct {
  1: i32 key
  2: string value
}

service SharedService {
  SharedStruct getStruct(1: i32 key) (api.get = "/v1/shared/:key")
}
