// users.thrift: routes in the CloudWeGo/Hertz annotation dialect.
namespace go users

struct User {
  1: i64 id,
  2: string name,
  3: list<string> tags,
}

struct GetUserReq {
  1: i64 id (api.path = "id"),
  2: string fields (api.query = "fields"),
  3: string token (api.header = "X-Token"),
  4: optional i32 page,
  5: list<i32> only,
}

struct UpdateUserReq {
  1: i64 id (api.path = "id"),
  2: string name,
  3: list<string> tags (api.body = "tags"),
  4: string trace (api.header = "X-Trace"),
}

struct FileReq {
  1: string path,
}

service Users {
  User getUser(1: GetUserReq req) (api.get = "/v1/users/:id"),
  User updateUser(1: UpdateUserReq req) (api.put = "/v1/users/:id", api.patch = "/v1/users/:id"),
  void deleteUser(1: GetUserReq req) (api.delete = "/v1/users/:id"),
  string readFile(1: FileReq req) (api.get = "/v1/files/*path"),
  i64 add(1: i64 a, 2: i64 b) (api.post = "/v1/add/:a"),
  string health(),
}
