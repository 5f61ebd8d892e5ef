# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Every install takes the tested versions of constraints.txt. uv installs them in a third of
# pip's time (with the bytecode compiled, as pip does); where uv cannot (no wheel for this
# machine, no way to the index), pip installs the same set.
PIP := $(BIN)/python -m pip install -q -c constraints.txt
INSTALL = { $(PIP) uv && $(BIN)/python -m uv pip install -q --compile-bytecode \
	--python $(BIN)/python -c constraints.txt $(1); } || $(PIP) $(1)
# make test draws new Hypothesis examples each run from a seed it prints; SEED=N repeats a run.
SEED ?=
# The tests keep compiled bytecode (blogtool's modules, pytest's rewritten test modules) even
# where the environment says PYTHONDONTWRITEBYTECODE: each test worker and every blogtool
# process a test starts would otherwise compile them all again (about 55 CPU-seconds a run).
PYTEST = env -u PYTHONDONTWRITEBYTECODE $(1)/python -m pytest

.PHONY: demo test test-lowest soak fuzz lint format bench docs i18n screenshots constraints clean

$(BIN)/python:
	@$(PYTHON) .ci/python_ok.py
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(call INSTALL,-e .)
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(call INSTALL,-e '.[test]')
	touch $@ $(VENV)/.installed

# The demo signs its unsubscribe links with a throwaway secret; a real site sets its own
# BLOGTOOL_SECRET in the environment of the scheduled job.
demo: export BLOGTOOL_SECRET ?= demo-secret-for-the-sample-site-only

## demo: install, then run the main job on the sample site in this directory
demo: $(VENV)/.installed
	$(BIN)/blogtool check
	$(BIN)/blogtool list
	$(BIN)/blogtool calendar --weeks 8
	$(BIN)/blogtool subscribers import docs/exempel-prenumeranter.csv
	$(BIN)/blogtool newsletter build --since 2026-11-01
	$(BIN)/blogtool run
	$(BIN)/blogtool newsletter list
	$(BIN)/blogtool status
	@$(BIN)/blogtool next || echo "(nothing is scheduled any more on the sample site)"
	@echo
	@echo "Built public/. Look at it: $(BIN)/python -m http.server -b 127.0.0.1 -d public 8000"
	@echo "(or '$(BIN)/blogtool serve', which previews drafts too) and open http://127.0.0.1:8000/."
	@echo "The newsletter went to outbox/ as one .eml file per subscriber."

# One test worker more than there are cores (at most 4): many tests wait on a server or a
# process a while, and a third worker on two cores fills those waits.
WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, (os.cpu_count() or 1) + 1))")

## test: install with test extras, lint, run the whole test suite on every core (the five
## slowest tests are listed at the end)
test: $(VENV)/.installed-test lint
	$(call PYTEST,$(BIN)) -n $(WORKERS) --durations=5 $(if $(SEED),--hypothesis-seed=$(SEED))

## test-lowest: the tests but the browser's, with every dependency at the lowest version
## pyproject.toml admits (.ci/lowest.py), in a virtualenv of its own (.venv-lowest)
test-lowest: .venv-lowest/.installed
	$(call PYTEST,.venv-lowest/bin) -n auto --maxprocesses=4 -m "not browser" -q \
		$(if $(SEED),--hypothesis-seed=$(SEED))

.venv-lowest/.installed: pyproject.toml constraints.txt .ci/lowest.py
	@$(PYTHON) .ci/python_ok.py
	$(PYTHON) -m venv .venv-lowest
	$(PYTHON) .ci/lowest.py > .venv-lowest/constraints.txt
	.venv-lowest/bin/python -m pip install -q -c .venv-lowest/constraints.txt -e '.[test]'
	touch $@

## soak: the long versions of the checks make test runs small: many kills of a bigger site,
## the scheduled job's week and spring clock change run every half hour, many more examples
soak: $(VENV)/.installed-test
	BLOGTOOL_SOAK=1 HYPOTHESIS_PROFILE=fuzz $(call PYTEST,$(BIN)) -n auto --durations=5 \
		tests/test_kill.py tests/test_run.py tests/test_fuzz.py

## fuzz: the property-based tests with many more (random) examples than make test runs
fuzz: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=fuzz $(call PYTEST,$(BIN)) tests/test_fuzz.py

## lint: ruff and mypy must pass; ruff's complexity rules are listed for a reviewer, not enforced
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@$(BIN)/ruff check --select C901,PLR0911,PLR0912,PLR0915 --exit-zero --output-format concise \
		--quiet blogtool | sed 's/^/note (complexity, for review): /'


format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## docs: regenerate the references printed from the code (tests check they are current)
docs: $(VENV)/.installed
	$(BIN)/blogtool fields --markdown > docs/front-matter.md
	$(BIN)/blogtool config --reference > docs/configuration.md

## i18n: extract the words of the code and templates, update the sv and en catalogues (new
## strings arrive empty, to translate; the command fails until none is) and compile them
i18n: $(VENV)/.installed
	$(BIN)/python -m blogtool.catalogues

## screenshots: the home, a tip and a post, desktop and phone, light and dark (docs/screenshots/)
screenshots: $(VENV)/.installed-test
	$(BIN)/python docs/screenshots.py

## bench: the benchmarks in bench/ (they print figures; nothing is asserted). Hugo comes from
## Debian's package (installed here when missing and we may); Pelican goes into bench/.work/.
bench: $(VENV)/.installed-test
	command -v hugo >/dev/null || apt-get install -y hugo || echo "no hugo: it is left out"
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/build.py --posts 1000 --compare hugo,pelican
	$(BIN)/python bench/signup.py --signups 200 --same 50
	$(BIN)/python bench/mydata.py --requests 200
	$(BIN)/python bench/send.py --subscribers 300 --rtt-ms 50 --connections 1,4 --baseline-sample 100

## constraints: pin the versions now installed in .venv as the tested set (after an upgrade)
constraints: $(VENV)/.installed-test
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable \
		| grep -v '^blogtool'; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .venv-lowest public .public.releases .public.previous .blogtool outbox .pytest_cache .ruff_cache
