# Warren's everyday commands. `make help` lists them.
GO        ?= go
BIN       ?= bin/warren
FUZZTIME  ?= 2000000x
BENCH     ?= .
BENCHCOUNT ?= 10

.PHONY: help run build test deps vet fuzz bench generate fmt clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

run: ## run a broker with the built-in defaults (AMQP :5672, HTTP :15672, data in ./warren-data)
	$(GO) run ./cmd/warren server

build: ## build ./bin/warren
	$(GO) build -o $(BIN) ./cmd/warren

test: ## install test deps, go vet, 50000 inputs per fuzz target, then the whole test suite
	bash scripts/test-deps.sh
	$(GO) vet ./...
	bash scripts/fuzz.sh 50000x
	$(GO) test -count=1 -timeout 14m ./...

deps: ## install what the tests need (Debian packages, amqplib, Go modules)
	bash scripts/test-deps.sh

vet: ## go vet
	$(GO) vet ./...

fuzz: ## run every fuzz target for FUZZTIME (default 2000000 inputs) each
	bash scripts/fuzz.sh $(FUZZTIME)

bench: ## benchmarks, BENCHCOUNT runs each, into bench.txt for benchstat
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCHCOUNT) ./... | tee bench.txt

generate: ## regenerate code and fail if the result differs from what is committed
	$(GO) generate ./...
	git diff --exit-code

fmt: ## gofmt -s every Go file
	gofmt -s -w $$(git ls-files --cached --others --exclude-standard '*.go')

clean: ## remove build output
	rm -rf bin
