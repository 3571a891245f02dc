# Every target sets up .venv on first use: the pinned CPU build of torch first
# (an unpinned torch would pull several GB of CUDA packages), then this
# package in editable mode with its test and docs extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: venv test demo docs clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[test,docs]"
	touch $@

test: venv
	$(BIN)/python -m pytest tests

demo: venv
	$(BIN)/python -m torch_nri demo

docs: venv
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build build *.egg-info
