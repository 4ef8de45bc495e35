# The two commands of the README: `make demo` (the main job on demo data) and `make test`.
# Both install the exact versions of locks/ (made from pyproject.toml's ranges by `make lock`),
# so every machine runs what CI tested.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast lint lock clean browser

$(VENV)/.installed: pyproject.toml locks/runtime.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25'
	$(BIN)/python -m pip install --quiet --require-hashes -r locks/runtime.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed locks/test.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r locks/test.txt
	touch $@

demo: $(VENV)/.installed
	$(BIN)/memberlens demo --out demo-output

# The report's browser tests drive Debian's chromium (fonts-noto-cjk draws the Chinese report).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else \
	    echo "chromium is missing and we are not root: the browser tests will skip (and fail when CI=true)"; \
	  fi; \
	fi

# The formatter and linter (settings in pyproject.toml); `ruff format src tests benchmarks` and
# `ruff check --fix ...` repair what they report.
lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check --quiet src tests benchmarks
	$(BIN)/ruff check --quiet src tests benchmarks

# The whole suite (what CI runs), after the linter.
test: lint $(VENV)/.installed-test browser
	$(BIN)/python -m pytest

# The edit-test loop: unit and oracle tests on DuckDB; no Spark, no browser, no slow tests, and
# fewer examples per property test (8 instead of 25).
test-fast: lint $(VENV)/.installed-test
	MEMBERLENS_FAST_LANE=1 $(BIN)/python -m pytest -m "not slow and not spark and not browser" -q

# Refresh locks/ from pyproject.toml's ranges (the newest releases that fit them), with hashes.
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --fork-strategy fewest --python-version 3.11 \
        --generate-hashes --no-header --quiet --upgrade
lock: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet 'uv>=0.9,<1'
	$(LOCK) -o locks/runtime.txt
	$(LOCK) --extra spark -o locks/spark.txt
	$(LOCK) --extra test -o locks/test.txt

clean:
	rm -rf $(VENV) demo-output .pytest_cache .hypothesis
