# socklab: every target is a thin wrapper around plain cargo commands (see README.md).
#   make grade [LAB=udp-time] [SOLUTIONS=1] [JSON=file]
#   make grade SUBMISSION=DIR | SUBMISSIONS=DIR [JOBS=N] [FORCE=1]   (students' work, each in a
#        sandbox; a class into target/grade/gradebook.csv; docs/instructors.md)
#   make watch LAB=udp-time
#   make capture [LAB=udp-time] [SOLUTIONS=1]   (captures for a lab's questions, docs/developing.md)
#   make test | make labs [FORCE=1] | make check-labs | make bench [LAB=udp-time] | make fmt
#   make new-lab NAME=echo   (a new one-program lab to start from; docs/developing.md)
#   make mutants [LAB=udp-time] | make bugs [LAB=udp-time]   (how well the checks catch bugs)
#   make reverts [LAB=udp-time]   (each blank reverted in turn: no check grades given code)
#   make student-kit OUT=DIR   (the repository students receive: no solutions; docs/instructors.md)
#   sudo make netlab [CLOSED=1] | sudo make netlab-down   (the course's hosts, docs/netlab.md)
#   sudo make capture LAB=chat NET=1   (the lab's scenario across those hosts)
#   sudo make grade LAB=chat NET=1     (its checks with your programs on one host, the grader's
#                                       peers on others, where the checks can; docs/netlab.md)

CARGO ?= cargo
# No --quiet: a first build takes a minute or two, and cargo's progress shows it is working.
KIT     = $(CARGO) run --bin socklab --
GRADE   = $(KIT) grade
CAPTURE = $(KIT) capture
GRADE_ARGS = $(if $(LAB),--lab $(LAB)) $(if $(SOLUTIONS),--solutions) \
             $(if $(SUBMISSION),--submission $(SUBMISSION)) $(if $(JSON),--json $(JSON)) \
             $(if $(SUBMISSIONS),--submissions $(SUBMISSIONS)) $(if $(JOBS),--students $(JOBS)) \
             $(if $(FORCE),--force) $(if $(NO_SANDBOX),--no-sandbox) \
             $(if $(NET),--net) $(if $(VERBOSE),--verbose)

.PHONY: grade watch test labs new-lab check-labs unit lint fmt bench capture mutants bugs reverts netlab netlab-down student-kit gradescope

# With SOLUTIONS=1 the solutions' captures and answers are made first (a failure shows in the table).
grade:
	@test -d target/debug || echo "socklab: first build: compiling the grader and its dependencies (a minute or two; cargo shows its progress)"
	$(if $(SOLUTIONS),-$(CAPTURE) --solutions $(if $(LAB),--lab $(LAB)))
	$(GRADE) $(GRADE_ARGS)

capture:
	$(CAPTURE) $(if $(LAB),--lab $(LAB)) $(if $(SOLUTIONS),--solutions) $(if $(NET),--net)

# The course's lab network in namespaces on this machine (root): dnsserver, webserver, client1,
# client2 on 10.20.30.0/24; `cargo run --bin netlab -- exec client1 …` runs a program on a host.
netlab:
	$(CARGO) run --bin netlab -- up $(if $(CLOSED),--closed)

netlab-down:
	$(CARGO) run --bin netlab -- down

student-kit:
	$(KIT) student-kit --out $(OUT)

# Gradescope's autograder, target/gradescope/autograder.zip: setup.sh, run_autograder and the
# students' copy of the kit (docs/instructors.md).
gradescope:
	$(KIT) gradescope --out target/gradescope

watch:
	$(GRADE) --watch $(GRADE_ARGS)

# labs/ from solutions/, and from the lab registry each program's src/bin file and benches/labs.rs.
labs:
	$(KIT) labs $(if $(FORCE),--force)

new-lab:
	$(KIT) new-lab $(NAME)

# labs/ matches solutions/, and the lab registry (src/bin/socklab/labs.rs) matches the files.
check-labs:
	$(KIT) check-labs

# The kit's own tests: labs match solutions, lint and format, every check fails on the untouched
# skeletons, unit and integration tests, every student bug of tests/<lab>/bugs/ loses points on the
# check it names, every check fails with one of its blanks reverted (no points for given code),
# and last every check passes on the solutions (whose capture questions are answered from a
# capture made in this run).
test: check-labs lint
	$(GRADE) --expect zero --json target/grade/skeletons.json
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory bugs
	$(KIT) reverts --quick
	$(CAPTURE) --solutions
	$(GRADE) --solutions --expect full --json target/grade/solutions.json

unit:
	$(CARGO) test --features solutions

lint:
	$(CARGO) fmt --all -- --check
	rustfmt --edition 2021 --check solutions/*/*.rs
	$(CARGO) clippy --all-targets --features solutions -- -D warnings
	$(CARGO) clippy --bins -- -D warnings

fmt:
	$(CARGO) fmt --all
	rustfmt --edition 2021 solutions/*/*.rs

# Mutants of the solutions' blanks, graded against the checks: the score per lab and the
# survivors (minutes; docs/developing.md). Exits 1 when a lab scores below 0.90.
mutants:
	$(KIT) mutants $(if $(LAB),--lab $(LAB))

# The corpus of student bugs (tests/<lab>/bugs/*.bug): each must lose points on its check.
bugs:
	$(KIT) bugs $(if $(LAB),--lab $(LAB))

# Each blank of the solutions reverted to its todo! in turn, the rest solved: every check must
# fail with one of them, or it gives points for code the student is given.
reverts:
	$(KIT) reverts $(if $(LAB),--lab $(LAB))

# Speed and memory against real peers (each lab's tests/<lab>/bench.rs, through benches/labs.rs),
# without LAB how long one submission takes to grade in the sandbox (benches/grading.rs, root),
# then how well the checks catch bugs (make mutants, a few minutes); each part exits non-zero
# when its target is missed. http's sets up Flask from PyPI in target/bench-venv.
bench:
	$(CARGO) bench --features solutions --bench labs -- $(LAB)
	$(if $(LAB),,$(CARGO) bench --bench grading)
	$(KIT) mutants $(if $(LAB),--lab $(LAB))
