// Bad fixture: includes that cannot be found are reported with the
// directories searched, and nothing else is checked.
include "nowhere.thrift"
include "inc/also_missing.thrift"

struct S { 1: Undefined u }
