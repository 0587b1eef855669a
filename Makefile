# Switchboard. `make help` lists the targets.
SHELL     := /bin/bash
GO        ?= go
PKGS      ?= ./...
BENCHTIME ?= 1s
STATICCHECK_VERSION ?= v0.8.2

.PHONY: help build test test-short demo bench fuzz lint testdata clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

build: ## build bin/switchboard
	$(GO) build -o bin/switchboard ./cmd/switchboard

test: ## the full suite, race detector on (what CI runs)
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

test-short: ## the suite without the race detector
	$(GO) test -count=1 $(PKGS)

demo: ## gateway + mock gRPC, Thrift and NATS backends on 127.0.0.1:8080 (admin :9901), with curl lines to try
	$(GO) run ./cmd/switchboard demo

bench: ## matching, transcoding, and each protocol beside its baseline (reference path, direct client), with the ratios
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./routes/ ./translate/... ./gateway/ | $(GO) run ./cmd/benchratio

.PHONY: bench-regen bench-gateways
BENCH_ARGS ?=

bench-regen: ## regenerate bench/gen: protoc-gen-go, -go-grpc and -grpc-gateway run through go run, no protoc
	cd bench && $(GO) run ./cmd/regen

bench-gateways: ## Switchboard vs grpc-gateway vs direct gRPC, each its own process (BENCH_ARGS=-memory, -smoke, ...)
	$(GO) build -o bench/bin/switchboard ./cmd/switchboard
	cd bench && $(GO) build -o bin/ ./cmd/backend ./cmd/grpcgateway ./cmd/grpcclient ./cmd/gatewaybench
	cd bench && bin/gatewaybench -bin bin -repo .. $(BENCH_ARGS)

fuzz: ## run each fuzz target for 30s
	$(GO) test -run '^$$' -fuzz '^FuzzParseTemplate$$' -fuzztime 30s ./routes/
	$(GO) test -run '^$$' -fuzz '^FuzzMatch$$' -fuzztime 30s ./routes/
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime 30s ./translate/binding/
	$(GO) test -run '^$$' -fuzz '^FuzzFastRequest$$' -fuzztime 30s ./translate/binding/
	$(GO) test -run '^$$' -fuzz '^FuzzFastReply$$' -fuzztime 30s ./translate/binding/
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime 30s ./translate/wirejson/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSet$$' -fuzztime 30s ./descriptors/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30s ./descriptors/thrift/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeReply$$' -fuzztime 30s ./translate/thrift/
	$(GO) test -run '^$$' -fuzz '^FuzzEncodeJSON$$' -fuzztime 30s ./translate/thrift/
	$(GO) test -run '^$$' -fuzz '^FuzzShapeOf$$' -fuzztime 30s ./translate/
	$(GO) test -run '^$$' -fuzz '^FuzzScan$$' -fuzztime 30s ./policy/framing/
	$(GO) test -run '^$$' -fuzz '^FuzzOverlaps$$' -fuzztime 30s ./routes/
	$(GO) test -run '^$$' -fuzz '^FuzzLineReader$$' -fuzztime 30s ./translate/stream/
	$(GO) test -run '^$$' -fuzz '^FuzzSSEMessage$$' -fuzztime 30s ./translate/stream/

lint: ## go vet and staticcheck (installed from the Go module proxy)
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

testdata: ## regenerate the descriptor sets the demo and tests load
	$(GO) run ./cmd/switchboard compile -o testdata/library.pb -I testdata/proto testdata/proto/library/v1/library.proto
	$(GO) run ./cmd/switchboard compile -o testdata/echo.pb -I testdata/proto testdata/proto/echo/v1/echo.proto
	$(GO) run ./cmd/switchboard compile -o testdata/stream.pb -I testdata/proto testdata/proto/stream/v1/stream.proto

clean:
	rm -rf bin
