# Set-up and everyday commands. Each target creates .venv and installs what it needs by itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
FMNIST := /usr/share/datasets/fashion-mnist
DEMO_OUT ?= runs/demo

.PHONY: test demo lint bench loihi clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# ruff must be clean; mypy reports type errors (not yet zero: see docs/development.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	-$(BIN)/mypy autosnn exporters hwsim

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider

# The main job on the built-in default data (Fashion-MNIST, installed from Debian's
# dataset-fashion-mnist when missing): super-network -> spike-aware search (lambda 0 and -0.24)
# -> retrain the -0.24 winner -> evaluate with per-neuron activity -> export to NIR -> cost it on
# Loihi 2 with hwsim. Quick preset: about 15 minutes on a 2-core CPU. Outputs in $(DEMO_OUT).
SEED ?= 0
demo: $(STAMP)
	@if [ ! -e $(FMNIST)/train-images-idx3-ubyte.gz ] && [ ! -e $(FMNIST)/train-images-idx3-ubyte ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
	  else echo "Fashion-MNIST missing: install Debian's dataset-fashion-mnist"; exit 2; fi; \
	fi
	$(BIN)/autosnn supernet --preset quick --seed $(SEED) --out $(DEMO_OUT)
	$(BIN)/autosnn search --preset quick --lambda 0 --lambda -0.24 --seed $(SEED) --out $(DEMO_OUT)
	$(BIN)/autosnn train --winner $(DEMO_OUT)/winner--0.24.json --preset quick --seed $(SEED) --out $(DEMO_OUT)/train--0.24
	$(BIN)/autosnn eval $(DEMO_OUT)/train--0.24/model.pt --preset quick --activity $(DEMO_OUT)/act.npz
	$(BIN)/autosnn export $(DEMO_OUT)/train--0.24/model.pt --to nir -o $(DEMO_OUT)/winner.nir
	$(BIN)/hwsim estimate $(DEMO_OUT)/winner.nir --chip loihi2 --activity $(DEMO_OUT)/act.npz --plot $(DEMO_OUT)/mesh.png

# Lava (Loihi 2 simulator) for the netx exporter's verification test.
LOIHI_STAMP := $(VENV)/.installed-loihi
$(LOIHI_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,loihi]'
	$(BIN)/pip install -q --ignore-requires-python --no-deps lava-nc==0.10.0 lava-dl==0.6.0
	touch $(LOIHI_STAMP)

loihi: $(LOIHI_STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/test_export_lava.py

bench: $(STAMP)
	$(BIN)/python bench/forward.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/search_eval.py
	$(BIN)/python bench/hwsim.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
