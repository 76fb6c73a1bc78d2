# omicsgen: install, run and test. `make run` and `make test` install first (into .venv).
PYTHON ?= python3
VENV ?= .venv
CORES ?= all
# torch is installed before the package, pinned, so pip never swaps it for another build.
# PyPI's Linux wheel of torch 2.13.0 is the CUDA build; on a CPU-only machine with a local
# CPU wheel (pip's find-links), the same pin takes that one. Extra pip arguments for torch
# (e.g. an index of wheels for another CUDA version) go in TORCH_PIP_ARGS.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
# e.g. PYTEST_ARGS='-m "not slurm"' where there is no root to start the test SLURM cluster
PYTEST_ARGS ?=

BIN := $(VENV)/bin

.PHONY: install run test test-fast lint format benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/python -c "import torch; print('torch', torch.__version__, 'CUDA available:', torch.cuda.is_available())"
	touch $@

run: install
	$(BIN)/snakemake --cores $(CORES)

test: lint
	bash tests/tools/install_debian_tools.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# unit tests only (no workflow runs, no SLURM): a minute or two while developing
test-fast: install
	bash tests/tools/install_debian_tools.sh
	$(BIN)/python -m pytest -m "not e2e and not slurm" $(PYTEST_ARGS)

# style and workflow checks (ruff and snakefmt configured in pyproject.toml); `make test` runs them first
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

# rewrite the code in place the way `make lint` checks it
format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile workflow/rules

benchmark: install
	bash tests/tools/install_debian_tools.sh
	$(BIN)/python benchmarks/lightning_overhead.py
	$(BIN)/python benchmarks/vcf_throughput.py
	$(BIN)/python benchmarks/depth_throughput.py

clean:
	rm -rf results resources/pbmc68k .snakemake
