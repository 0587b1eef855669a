namespace * smoke
namespace py smoke

struct Ping {
  1: string message
}
