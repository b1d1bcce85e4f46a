# ipp-portal: the commands a developer needs. `make run` and `make test` work on a fresh
# Debian machine with rustup, Node.js and apt: they install whatever is missing first.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(HOME)/.cargo/bin:/usr/local/bin:$(PATH)

ADDR ?= 127.0.0.1:3000
# The address people open: a host name, not the IP address, since browsers refuse
# passkeys at an IP address (localhost is a name they accept without https).
PUBLIC_URL ?= http://localhost:$(lastword $(subst :, ,$(ADDR)))
DATABASE_URL ?= sqlite://data/ipp-portal.db

.PHONY: help setup run build test test-rust test-api-fuzz test-e2e lint fmt bench clean

help:
	@echo "make run     build and serve the portal at $(PUBLIC_URL) (SQLite, demo login printed)"
	@echo "make test    every test: lint, unit, integration (SQLite and PostgreSQL), browser"
	@echo "make build   release build: target/release/ipp-portal and target/site"
	@echo "make bench   throughput and latency on 1,000,000 devices, SQLite and PostgreSQL"
	@echo "make setup   install the toolchain alone"

setup:
	bash scripts/setup.sh

# scripts/build-site.sh builds the browser bundle (target/site) and the server: the one
# build step of `make run`, `make build` and the browser tests.
run:
	bash scripts/setup.sh run
	bash scripts/build-site.sh
	target/debug/ipp-portal serve --addr $(ADDR) --public-url $(PUBLIC_URL) --database-url $(DATABASE_URL) --seed-demo

build:
	bash scripts/setup.sh run
	bash scripts/build-site.sh --release
	@bash scripts/bundle-size.sh target/site

test: setup lint test-rust test-api-fuzz test-e2e

# app and server are always built together, so both share one set of dependency builds.
lint:
	cargo fmt --all -- --check
	cargo clippy -p app -p server --all-targets -- -D warnings
	# The benchmark, with the bulk loading only it compiles in.
	cargo clippy -p server --features bench --benches -- -D warnings
	# The browser bundle: server-only code must not leak into it.
	cargo $$(bash scripts/wasm-toolchain.sh) clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

# Unit tests, and the integration tests on SQLite and on PostgreSQL.
test-rust:
	bash scripts/with-postgres.sh cargo test -p app -p server

# The Device API fuzzed from its OpenAPI description by schemathesis, with a real API key:
# no server error, and every status, content type and body as described.
test-api-fuzz:
	bash scripts/schemathesis.sh

# The browser tests build the site themselves (end2end/server.js runs scripts/build-site.sh).
test-e2e:
	cd end2end && npm test

# SQLite, and PostgreSQL at BENCH_POSTGRES_URL or else a throwaway one, side by side.
bench:
	bash scripts/setup.sh run
	if [ -n "$${BENCH_POSTGRES_URL:-}" ]; then \
	  cargo bench -p server --features bench --bench device_api; \
	else \
	  bash scripts/with-postgres.sh cargo bench -p server --features bench --bench device_api; \
	fi

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf data
