// Bad fixture: lexical errors.
const i64 TOO_BIG = 99999999999999999999
const string NEWLINE = "no closing quote
const i32 AT = @5
const i64 HEX_TOO_BIG = 0x1FFFFFFFFFFFFFFFF
struct S { 1: i32 x } /* never closed
