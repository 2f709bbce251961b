# kubesim: build, run and test.
#
#   make run    builds kubesim and runs "kubesim serve" on its embedded defaults
#   make test   runs the whole test suite (what CI runs)
#   make bench  runs the benchmarks and prints their report

GO       ?= go
BIN      := bin/kubesim
# The embedded kubectl and the libraries report the Kubernetes release kubesim behaves as.
LDFLAGS  := $(shell scripts/ldflags.sh)

.PHONY: build run test bench web clean

build: web
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kubesim

run: build
	./$(BIN) serve

web:
	@if [ -f web/package.json ]; then ./scripts/build-web.sh; fi

test: web
	./scripts/test.sh

bench: build
	./$(BIN) bench

clean:
	rm -rf bin web/node_modules && find web/static -mindepth 1 ! -name README.md -exec rm -rf {} +
