# Hongqi Mobility — the two commands: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := .bin

.PHONY: run build test vet fmt-check lint-spec test-go test-e2e bench clean

## run: serve the API with the demo data on http://localhost:8080 (docs at /docs)
run:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/mobility ./cmd/mobility
	./scripts/dev-run

## build: the service binary and the pinned stripe-mock into .bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/mobility github.com/stripe/stripe-mock

## test: formatting, vet, the spec lint and every test with -race
test: fmt-check vet lint-spec test-go

fmt-check:
	@out="$$(gofmt -l cmd internal migrations openapi mobile-mock)"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tools/lint/node_modules/.bin/spectral: tools/lint/package.json tools/lint/package-lock.json
	cd tools/lint && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

lint-spec: tools/lint/node_modules/.bin/spectral
	tools/lint/node_modules/.bin/spectral lint --fail-severity=warn openapi/openapi.yaml

test-go:
	$(GO) test -race -count=1 ./...

## test-e2e: the mobile mock's resident journey in headless Chromium against a real server, PostgreSQL and stripe-mock
test-e2e:
	./mobile-mock/e2e/run.sh

## bench: Go benchmarks, then the load tool (10k cars, 1M reservations; API and bare SQL side by side)
bench: build
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=2s ./internal/pricing/ ./internal/fleet/
	$(GO) test -run='^$$' -bench=BenchmarkReconcile100k -benchtime=1x ./internal/ledger/
	$(BIN)/mobility loadtest $(LOADTEST_FLAGS)

clean:
	rm -rf $(BIN)
