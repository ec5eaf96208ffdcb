# ResNet-50 vs ResNeXt-50 (32x4d) on CIFAR-10. `make help` lists the targets.
#
# `make report` first plans the profile (validates it, marks out-of-date runs by content), then a
# second make builds each missing run directory and the report; -j runs independent runs in parallel.

PROFILE ?= quick
DATA ?=
RETRAIN ?=
LONG ?=
GPUS ?=
RUNNER ?= notebook
STEP_MODE ?=
CHANNELS_LAST ?=
OUTPUTS ?= outputs
PYTHON ?= python3
TORCH ?= pinned
WHEELS ?=
WHEELS_PYTHON ?= 3.12
WHEELS_PLATFORM ?= manylinux_2_28_x86_64

VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
LAB_INSTALLED := $(VENV)/.lab-installed
PROFILE_DIR := $(OUTPUTS)/$(PROFILE)
RUN_LIST := $(PROFILE_DIR)/runs.txt
RUNS = $(shell cat $(RUN_LIST) 2>/dev/null)
SUMMARIES = $(foreach run,$(RUNS),$(PROFILE_DIR)/runs/$(run)/summary.json)
export ARCHCOMPARE_OUTPUTS := $(abspath $(OUTPUTS))
export ARCHCOMPARE_GPUS := $(GPUS)
# How this invocation's runs execute (archcompare/execution.py): not what identifies them.
export ARCHCOMPARE_STEP_MODE := $(STEP_MODE)
export ARCHCOMPARE_CHANNELS_LAST := $(CHANNELS_LAST)

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.PHONY: help install wheels plan report runs bench penalty test golden lint clean lab _runs _report

help:  ## list the targets
	@echo "usage: make <target> [PROFILE=smoke|quick|blog|full|<yours>] [DATA=cifar10|cifar100|imagefolder:<path>]"
	@echo "       make report|runs ... [RETRAIN=1: retrain runs of older training code] [LONG=1: train however long]"
	@echo "                            [GPUS=0,1,..: one run per GPU with -jN] [RUNNER=python: no Jupyter]"
	@echo "                            [STEP_MODE=eager|cuda-graph] [CHANNELS_LAST=1|0]: how they execute, not what they are"
	@echo "       make install [TORCH=pinned|system] [WHEELS=<folder>] [PYTHON=<python with torch>]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-7s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(INSTALLED)  ## create .venv: pinned packages (TORCH=system reuses the machine's torch; WHEELS=<dir> offline)

$(INSTALLED): requirements.txt pyproject.toml Makefile tools/install.py
	$(PYTHON) tools/install.py --venv $(VENV) --torch $(TORCH) $(if $(WHEELS),--wheels '$(WHEELS)')
	touch $@

# JupyterLab and ruff, for `make lab` and `make lint` only.
$(LAB_INSTALLED): requirements-lab.txt $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check $(if $(WHEELS),--no-index --find-links '$(WHEELS)') -r requirements-lab.txt
	touch $@

wheels:  ## download the pinned packages' wheels into WHEELS (default wheels/) for WHEELS_PYTHON and WHEELS_PLATFORM
	$(PYTHON) tools/install.py --download --lab --torch $(TORCH) --wheels '$(or $(WHEELS),wheels)' \
		--python-version $(WHEELS_PYTHON) --platform $(WHEELS_PLATFORM)

report: $(INSTALLED)  ## train PROFILE's missing or out-of-date runs, then render outputs/PROFILE/report.html
	@$(PY) -m archcompare.cli plan '$(PROFILE)' --data '$(DATA)' --retrain '$(RETRAIN)' --long '$(LONG)' --runs-file $(RUN_LIST)
	@$(MAKE) --no-print-directory _report

plan: $(INSTALLED)  ## validate PROFILE and list its runs to train in outputs/PROFILE/runs.txt (for job arrays)
	@$(PY) -m archcompare.cli plan '$(PROFILE)' --data '$(DATA)' --retrain '$(RETRAIN)' --long '$(LONG)' --runs-file $(RUN_LIST)

runs: $(INSTALLED)  ## train PROFILE's missing or out-of-date runs only
	@$(PY) -m archcompare.cli plan '$(PROFILE)' --data '$(DATA)' --retrain '$(RETRAIN)' --long '$(LONG)' --runs-file $(RUN_LIST)
	@$(MAKE) --no-print-directory _runs

_runs: $(SUMMARIES)

_report: $(SUMMARIES)
	@$(PY) -m archcompare.cli render '$(PROFILE)'

# One run: train.ipynb executed by papermill. summary.json is written last, so it exists only
# when the run finished; a failed run leaves no summary.json and Make tries it again next time.
# RUNNER=python trains in the make process's Python, without Jupyter (cluster workers).
$(PROFILE_DIR)/runs/%/summary.json:
	@$(PY) -m archcompare.cli $(if $(filter python,$(RUNNER)),train,run) $(@D)

bench: $(INSTALLED)  ## benchmark the blog's loop against this package's (outputs/bench/; QUICK=1: machinery only; CONCURRENCY=<profile>: runs side by side)
	@$(PY) -m archcompare.cli bench $(if $(QUICK),--quick) $(if $(CONCURRENCY),--concurrency '$(CONCURRENCY)')

# One pytest-xdist worker per core; a test file's tests stay in one worker, which builds that file's
# fixtures (a make report, a set of runs) once.
test: $(INSTALLED)  ## run the test suite (CPU only, no network, a few minutes)
	$(PY) -m pytest -n auto --dist loadfile

penalty: $(INSTALLED)  ## on a GPU with airbench installed: what DATA (a CIFAR-10 copy) costs in accuracy (RUNS=10)
	@$(PY) -m archcompare.cli data-penalty --data '$(DATA)' --runs $(or $(RUNS),10)

golden: $(INSTALLED)  ## after raising TRAINING_CODE_VERSION: record the golden run anew (tests/golden/training.json)
	$(PY) tests/golden.py --write

lint: $(LAB_INSTALLED)  ## ruff on the package, tests and notebooks
	$(VENV)/bin/ruff check lib tests notebooks
	$(VENV)/bin/ruff format --check lib tests notebooks

clean:  ## remove one profile's outputs: make clean PROFILE=<name> (PROFILE must be given)
ifneq ($(origin PROFILE),command line)
	@echo "error: name the profile whose outputs to remove, e.g. make clean PROFILE=smoke" >&2; exit 2
endif
	rm -rf -- '$(PROFILE_DIR)'

lab: $(LAB_INSTALLED)  ## open the notebooks in JupyterLab with the project's kernel
	$(VENV)/bin/jupyter lab notebooks/
