# One command to set up and run the demo, one to set up and run the tests (see README).
PY ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
# Which torch build: on a machine without an NVIDIA GPU (no working `nvidia-smi`), PyTorch's CPU
# wheels (a few hundred MB instead of PyPI's multi-GB CUDA build). That index is asked once, with a
# short timeout and no retries, so an unreachable one costs seconds, not minutes of retry warnings;
# where it cannot give torch, the default index does. TORCH_INDEX= (empty) skips it.
HAS_NVIDIA_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH_INDEX ?= $(if $(HAS_NVIDIA_GPU),,https://download.pytorch.org/whl/cpu)
TORCH_INDEX_TIMEOUT ?= 5
BIN := $(VENV)/bin
PIP_QUIET ?= -q

.PHONY: demo test install clean

$(BIN)/.torch: Makefile
	$(PY) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(BIN)/pip install $(PIP_QUIET) "torch==$(TORCH_VERSION)" --index-url $(TORCH_INDEX) \
	    --timeout $(TORCH_INDEX_TIMEOUT) --retries 0 || { echo "torch: $(TORCH_INDEX) unreachable or without \
	torch $(TORCH_VERSION); using the default index"; $(BIN)/pip install $(PIP_QUIET) "torch==$(TORCH_VERSION)"; }, \
	$(BIN)/pip install $(PIP_QUIET) "torch==$(TORCH_VERSION)")
	touch $@

$(BIN)/.installed: $(BIN)/.torch pyproject.toml
	$(BIN)/pip install $(PIP_QUIET) -e ".[test]"
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
