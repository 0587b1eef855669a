// shared.thrift, after the Apache Thrift tutorial: an included file with a
// base service, so stubs can name inherited functions and prefixed types.
struct SharedStruct {
  1: i32 key,
  2: string value,
}

service SharedService {
  SharedStruct getStruct(1: i32 key),
}
