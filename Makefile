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

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider

# Installs Debian's dataset-fashion-mnist when its files are missing (and apt is there), then runs
# the main job: super-network -> spike-aware search (lambda 0 and -0.24) -> retrain -> eval.
demo: $(STAMP)
	@if [ ! -e $(FMNIST)/train-images-idx3-ubyte.gz ] && [ ! -e $(FMNIST)/train-images-idx3-ubyte ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) || \
	    (sudo apt-get update -qq && sudo apt-get install -y -qq dataset-fashion-mnist); \
	  else echo "Fashion-MNIST missing: install Debian's dataset-fashion-mnist or pass DATA_DIR"; exit 2; fi; \
	fi
	$(BIN)/autosnn search --preset quick --lambda 0 --lambda -0.24 --seed 0 --out $(DEMO_OUT)

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
