# One command to set up and run the demo, one to set up and run the tests (see README).
PY ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
# CPU-only machines: TORCH_INDEX=https://download.pytorch.org/whl/cpu avoids the multi-GB CUDA build.
TORCH_INDEX ?=
BIN := $(VENV)/bin

.PHONY: demo test install clean

$(BIN)/.installed: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/brainage demo --out results/demo

test: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	BRAINAGE_NO_PROGRESS=1 $(BIN)/python -m pytest -q -ra --durations=15

clean:
	rm -rf $(VENV) results
