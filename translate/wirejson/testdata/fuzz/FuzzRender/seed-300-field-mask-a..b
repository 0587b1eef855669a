go test fuzz v1
uint32(1037)
[]byte("\n\x04a..b")
