# Each target just calls its script; the scripts are the source of truth.
.PHONY: install run test lint bench test-alerts

install:
	./scripts/install.sh

run:
	./scripts/run.sh

test:
	./scripts/test.sh

lint:
	./scripts/lint.sh

bench:
	./scripts/bench.sh

test-alerts:
	./scripts/test-alerts.sh
