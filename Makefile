# Two commands set up everything on a fresh machine:
#   make demo   venv + install + ingest the bundled sample + answer sample questions
#   make test   venv + install + the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q

# everything but the slow end-to-end runs over ../shared data
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# numbers behind docs/benchmarks.md; needs ../shared/data; the first build embeds 4.2M chars (~40 min)
bench: $(STAMP)
	$(PY) benchmarks/ingest_news.py
	$(PY) benchmarks/build_eval_index.py --resume
	$(PY) benchmarks/query_latency.py
	bash benchmarks/eval_baselines.sh

clean:
	rm -rf $(VENV) build .pytest_cache demo_index
