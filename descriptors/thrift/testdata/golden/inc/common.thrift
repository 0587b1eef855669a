/** Shared definitions, found through the include directory. */
namespace * switchboard.common

typedef string Name

const Name DEFAULT_NAME = "anonymous"

enum Level {
  LOW = 1
  HIGH = 2
}

exception NotFound {
  1: string what
}

service Base {
  string version()
  void reset() (idempotent)
}
