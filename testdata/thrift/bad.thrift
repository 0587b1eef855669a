struct X {
  1: i32 a
  1: Missing b
}
service S { void f(1: Nope n) }
