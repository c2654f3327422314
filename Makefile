# Set-up and everyday commands. Each target creates .venv and installs what it needs by itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
FMNIST := /usr/share/datasets/fashion-mnist
DEMO_OUT ?= runs/demo

.PHONY: test demo lint bench loihi speck clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# ruff and mypy must both be clean, over every package (the CLI modules included); CI runs it.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy autosnn exporters hwsim safeio

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider

# The main job on the built-in default data (Fashion-MNIST, installed from Debian's
# dataset-fashion-mnist when missing): super-network -> chip-aware search for Loihi 2 within an
# energy budget (lambda chosen per chip from a sweep on the one super-network) -> retrain the
# chosen winner, cost it on the chip and fine-tune it until it meets the same budget -> evaluate
# on the full test set with per-timestep activity -> export to NIR -> cost it on Loihi 2 with
# hwsim. Quick preset; under 10 minutes on a 2-core CPU (9 min 31 s measured). Reports:
# $(DEMO_OUT)/report.md (the search's decision), $(DEMO_OUT)/train/report.md (searched vs
# deployed cost).
# `make demo BUDGET=` searches without a budget; RETRAIN="--limit 60000 --epochs 3" retrains
# longer (about 9 minutes more on a 2-core CPU; 87.25 % test accuracy instead of 84.39 %).
SEED ?= 0
CHIP ?= loihi2
BUDGET ?= --max-energy 1e-4
RETRAIN ?= --limit 30000 --epochs 2 --budget-samples 10000
demo: $(STAMP)
	@if [ ! -e $(FMNIST)/train-images-idx3-ubyte.gz ] && [ ! -e $(FMNIST)/train-images-idx3-ubyte ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
	  else echo "Fashion-MNIST missing: install Debian's dataset-fashion-mnist"; exit 2; fi; \
	fi
	$(BIN)/autosnn supernet --preset quick --seed $(SEED) --out $(DEMO_OUT)
	$(BIN)/autosnn search --preset quick --chip $(CHIP) --lambda auto $(BUDGET) --seed $(SEED) --out $(DEMO_OUT)
	$(BIN)/autosnn train --winner $(DEMO_OUT)/winner.json --preset quick $(RETRAIN) --seed $(SEED) --out $(DEMO_OUT)/train
	$(BIN)/autosnn eval $(DEMO_OUT)/train/model.pt --preset quick --limit 10000 --activity $(DEMO_OUT)/act.npz --json $(DEMO_OUT)/eval.json
	$(BIN)/autosnn export $(DEMO_OUT)/train/model.pt --to nir -o $(DEMO_OUT)/trained.nir
	$(BIN)/hwsim estimate $(DEMO_OUT)/trained.nir --chip $(CHIP) --activity $(DEMO_OUT)/act.npz --plot $(DEMO_OUT)/trained-mesh.png
	@echo "reports: $(DEMO_OUT)/report.md (search), $(DEMO_OUT)/train/report.md (deployed network vs budget); test accuracy: $(DEMO_OUT)/eval.json"

# Lava (Loihi 2 simulator) for the netx exporter's verification test.
LOIHI_STAMP := $(VENV)/.installed-loihi
$(LOIHI_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,loihi]'
	$(BIN)/pip install -q --ignore-requires-python --no-deps lava-nc==0.10.0 lava-dl==0.6.0
	touch $(LOIHI_STAMP)

# sinabs (SynSense's Speck toolchain) for `autosnn export --to speck` and its tests. Installed
# without its dependencies: it pins nir<=1.0.4 while autosnn needs >=1.0.7, and works with ours
# (tests/test_export_speck.py, tests/test_speck_space.py; docs/exporters.md).
SPECK_STAMP := $(VENV)/.installed-speck
$(SPECK_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,speck]'
	$(BIN)/pip install -q --no-deps sinabs==3.1.3
	touch $(SPECK_STAMP)

speck: $(SPECK_STAMP)

loihi: $(LOIHI_STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/test_export_lava.py

bench: $(STAMP)
	$(BIN)/python bench/forward.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/search_eval.py
	$(BIN)/python bench/hwsim.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
