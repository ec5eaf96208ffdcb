# ResNet-50 vs ResNeXt-50 (32x4d) on CIFAR-10. `make help` lists the targets.
#
# `make report` first plans the profile (validates it, marks out-of-date runs by content), then a
# second make builds each missing run directory and the report; -j runs independent runs in parallel.

PROFILE ?= quick
DATA ?=
RETRAIN ?=
LONG ?=
GPUS ?=
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

# --- What comes from the command line, checked before anything uses it ---
# Values are taken as typed: make would expand a `$(...)` inside one, running any `$(shell ...)` and
# turning PROFILE='$(rm -rf x)' into an empty name (and `make clean` into removing all of OUTPUTS).
PROFILE_ORIGIN := $(origin PROFILE)
# RUNNER counts only on the command line (tools/slurm_runs.sh passes it there): CI systems and other tools
# export variables of that name, which must not stop `make test`.
ifneq ($(origin RUNNER),command line)
RUNNER := notebook
endif
USER_VARIABLES := PROFILE DATA RETRAIN LONG GPUS RUNNER STEP_MODE CHANNELS_LAST OUTPUTS RUNS QUICK CONCURRENCY TORCH WHEELS \
	WHEELS_PYTHON WHEELS_PLATFORM
$(foreach name,$(USER_VARIABLES),$(eval override $(name) := $$(value $(name))))
# Free-form values reach the commands below through the environment ("$$DATA"), never pasted into
# their text, so that no quote, `;` or `$` in them can run anything.
export DATA RETRAIN LONG RUNS CONCURRENCY TORCH WHEELS WHEELS_PYTHON WHEELS_PLATFORM

# PROFILE names a file, notebooks/profiles/<PROFILE>.yaml, and a folder, $(OUTPUTS)/<PROFILE>, and is
# part of the file names make builds: letters, digits, '-', '_' and '.', not first (no path, no '..',
# no space, quote or `$`). OUTPUTS is a path inside those names: letters, digits and / . _ - + @
# (make cannot build file names with spaces, ':' or '%'). A bad value stops every target here, with
# one line, before anything runs.
ALPHANUMERIC := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z \
	0 1 2 3 4 5 6 7 8 9
# $(1) without any of the characters listed in $(2) (whitespace stays, so a leftover space counts).
without = $(if $(2),$(call without,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
# Text as one word for the shell, whatever it holds: 'it'\''s'.
quoted = '$(subst ','\'',$(1))'
PROFILES_FOLDER := $(or $(value ARCHCOMPARE_PROFILES),notebooks/profiles)
# Folders of OUTPUTS that are not a profile's (paths.RESERVED_OUTPUT_FOLDERS): `make bench`'s and `make
# penalty`'s results, which a profile of that name would share and `make clean` would remove.
RESERVED_OUTPUTS := bench data-penalty
ifneq ($(call without,$(PROFILE),$(ALPHANUMERIC) - _ .)$(filter .%,$(PROFILE)),)
INPUT_ERROR := PROFILE='$(PROFILE)' is not a profile name (letters, digits, '-', '_' and '.', not first): \
	name a .yaml file of $(PROFILES_FOLDER) without .yaml, e.g. PROFILE=smoke
else ifneq ($(filter $(RESERVED_OUTPUTS),$(PROFILE)),)
INPUT_ERROR := PROFILE='$(PROFILE)' is not a profile name: $(OUTPUTS)/$(PROFILE) holds the results of make bench or \
	make penalty, which it would share; rename the profile
else ifeq ($(PROFILE),)
INPUT_ERROR := PROFILE is empty: name a .yaml file of $(PROFILES_FOLDER) without .yaml, e.g. PROFILE=smoke
else ifneq ($(call without,$(OUTPUTS),$(ALPHANUMERIC) / . _ - + @),)
INPUT_ERROR := OUTPUTS='$(OUTPUTS)' is not a folder make can use: letters, digits and / . _ - + @ only
else ifeq ($(OUTPUTS),)
INPUT_ERROR := OUTPUTS is empty: name the folder for the runs and reports, e.g. OUTPUTS=outputs
else ifneq ($(filter-out notebook python,$(RUNNER))$(filter-out 1,$(words $(RUNNER))),)
INPUT_ERROR := RUNNER='$(RUNNER)' is not allowed: choose notebook (train.ipynb through papermill) or python (no Jupyter)
endif
ifdef INPUT_ERROR
# One line, also when the value holds a line break.
$(shell { printf '%s' $(call quoted,error: $(INPUT_ERROR)) | tr '\r\n' '  '; echo; } >&2)
$(error refused: see the line above)
endif

PROFILE_DIR := $(OUTPUTS)/$(PROFILE)
RUN_LIST := $(PROFILE_DIR)/runs.txt
# The runs the last plan listed (not RUNS: that is `make penalty`'s number of runs).
PLANNED_RUNS = $(shell cat '$(RUN_LIST)' 2>/dev/null)
SUMMARIES = $(foreach run,$(PLANNED_RUNS),$(PROFILE_DIR)/runs/$(run)/summary.json)
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
	$(PYTHON) tools/install.py --venv $(VENV) --torch "$$TORCH" $(if $(WHEELS),--wheels "$$WHEELS")
	touch $@

# JupyterLab and ruff, for `make lab` and `make lint` only.
$(LAB_INSTALLED): requirements-lab.txt $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check $(if $(WHEELS),--no-index --find-links "$$WHEELS") -r requirements-lab.txt
	touch $@

wheels:  ## download the pinned packages' wheels into WHEELS (default wheels/) for WHEELS_PYTHON and WHEELS_PLATFORM
	$(PYTHON) tools/install.py --download --lab --torch "$$TORCH" --wheels "$${WHEELS:-wheels}" \
		--python-version "$$WHEELS_PYTHON" --platform "$$WHEELS_PLATFORM"

# PROFILE and OUTPUTS were checked above; the free-form values come from the environment.
PLAN = $(PY) -m archcompare.cli plan $(PROFILE) --data "$$DATA" --retrain "$$RETRAIN" --long "$$LONG" --runs-file '$(RUN_LIST)'

report: $(INSTALLED)  ## train PROFILE's missing or out-of-date runs, then render outputs/PROFILE/report.html
	@$(PLAN)
	@$(MAKE) --no-print-directory _report

plan: $(INSTALLED)  ## validate PROFILE and list its runs to train in outputs/PROFILE/runs.txt (for job arrays)
	@$(PLAN)

runs: $(INSTALLED)  ## train PROFILE's missing or out-of-date runs only
	@$(PLAN)
	@$(MAKE) --no-print-directory _runs

_runs: $(SUMMARIES)

_report: $(SUMMARIES)
	@$(PY) -m archcompare.cli render $(PROFILE)

# One run: train.ipynb executed by papermill. summary.json is written last, so it exists only
# when the run finished; a failed run leaves no summary.json and Make tries it again next time.
# RUNNER=python trains in the make process's Python, without Jupyter (cluster workers).
$(PROFILE_DIR)/runs/%/summary.json:
	@$(PY) -m archcompare.cli $(if $(filter python,$(RUNNER)),train,run) $(@D)

bench: $(INSTALLED)  ## benchmark the blog's loop against this package's (outputs/bench/; QUICK=1: machinery only; CONCURRENCY=<profile>: runs side by side)
	@$(PY) -m archcompare.cli bench $(if $(QUICK),--quick) $(if $(CONCURRENCY),--concurrency "$$CONCURRENCY")

# One pytest-xdist worker per core; a test file's tests stay in one worker, which builds that file's
# fixtures (a make report, a set of runs) once.
test: $(INSTALLED)  ## run the test suite (CPU only, no network, a few minutes)
	$(PY) -m pytest -n auto --dist loadfile

penalty: $(INSTALLED)  ## on a GPU with airbench installed: what DATA (a CIFAR-10 copy) costs in accuracy (RUNS=10)
	@$(PY) -m archcompare.cli data-penalty --data "$$DATA" --runs "$${RUNS:-10}"

golden: $(INSTALLED)  ## after raising TRAINING_CODE_VERSION: record the golden run anew (tests/golden/training.json)
	$(PY) tests/golden.py --write

lint: $(LAB_INSTALLED)  ## ruff on the package, tests and notebooks
	$(VENV)/bin/ruff check lib tests notebooks
	$(VENV)/bin/ruff format --check lib tests notebooks

# Removes $(OUTPUTS)/<PROFILE> and nothing else, without .venv. PROFILE must be named on the command
# line and be a profile (a .yaml in notebooks/profiles/, or in ARCHCOMPARE_PROFILES as for the other
# targets); its outputs folder must not be a symbolic link, which could lead anywhere. One shell
# command, so that no check can be skipped (make -i would run a recipe's next line after a failed one).
clean:  ## remove one profile's outputs, OUTPUTS/<PROFILE>: make clean PROFILE=<name of an existing profile>
	@profiles="$${ARCHCOMPARE_PROFILES:-notebooks/profiles}"; target='$(PROFILE_DIR)'; \
	if [ "$(PROFILE_ORIGIN)" != "command line" ]; then \
		echo "error: name the profile whose outputs to remove, e.g. make clean PROFILE=smoke" >&2; exit 2; \
	elif [ ! -f "$$profiles/$(PROFILE).yaml" ]; then \
		echo "error: unknown profile '$(PROFILE)': choose one of" \
			"$$(ls "$$profiles" 2>/dev/null | sed -n 's/\.yaml$$//p' | paste -sd , - | sed 's/,/, /g')" \
			"(files in $$profiles)" >&2; exit 2; \
	elif [ -L "$$target" ]; then \
		echo "error: $$target is a symbolic link (to $$(readlink "$$target")): not removing what it leads to;" \
			"remove the link or its target yourself" >&2; exit 2; \
	elif [ -e "$$target" ]; then \
		rm -rf -- "$$target" && echo "removed $$target"; \
	else \
		echo "nothing to remove: $$target does not exist"; \
	fi

lab: $(LAB_INSTALLED)  ## open the notebooks in JupyterLab with the project's kernel
	$(VENV)/bin/jupyter lab notebooks/
