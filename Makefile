# socklab: every target is a thin wrapper around plain cargo commands (see README.md).
#   make grade [LAB=udp-time] [SOLUTIONS=1] [SUBMISSION=path/to/labs] [JSON=file]
#   make watch LAB=udp-time
#   make test | make labs [FORCE=1] | make check-labs | make bench | make fmt

CARGO ?= cargo
GRADE  = $(CARGO) run --quiet --bin grade --
LABGEN = $(CARGO) run --quiet --bin labgen --
GRADE_ARGS = $(if $(LAB),--lab $(LAB)) $(if $(SOLUTIONS),--solutions) \
             $(if $(SUBMISSION),--submission $(SUBMISSION)) $(if $(JSON),--json $(JSON))

.PHONY: grade watch test labs check-labs unit lint fmt bench

grade:
	$(GRADE) $(GRADE_ARGS)

watch:
	$(GRADE) --watch $(GRADE_ARGS)

labs:
	$(LABGEN) $(if $(FORCE),--force)

check-labs:
	$(LABGEN) --check

# The kit's own tests: labs match solutions, unit and integration tests, lint and format,
# then every check passes on the solutions and fails on the untouched skeletons.
test: check-labs unit lint
	$(GRADE) --solutions --expect full --json target/grade/solutions.json
	$(GRADE) --expect zero --json target/grade/skeletons.json

unit:
	$(CARGO) test --features solutions --target-dir target/solutions

lint:
	$(CARGO) fmt --all -- --check
	rustfmt --edition 2021 --check solutions/*/*.rs
	$(CARGO) clippy --all-targets --features solutions --target-dir target/solutions -- -D warnings
	$(CARGO) clippy --bins -- -D warnings

fmt:
	$(CARGO) fmt --all
	rustfmt --edition 2021 solutions/*/*.rs

bench:
	$(CARGO) bench --features solutions --target-dir target/solutions --bench udp_time
	$(CARGO) bench --features solutions --target-dir target/solutions --bench chatroom
