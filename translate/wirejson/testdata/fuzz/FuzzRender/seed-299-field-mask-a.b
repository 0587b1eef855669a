go test fuzz v1
uint32(781)
[]byte("\n\x03a.b")
