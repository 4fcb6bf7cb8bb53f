# Two commands set up everything on a fresh machine:
#   make demo   venv + install + ingest the bundled sample + answer sample questions
#   make test   venv + install + the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
NOTO   := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
# CPU build of torch (a local wheel on our machines); the tests of the local-model backends need it
TORCH  ?= torch==2.13.0

.PHONY: demo test test-fast typecheck fonts browser bench clean

# the demo needs no C compiler: the [dev] extra (hnswlib builds from source) waits for the tests
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[demo]'
	touch $(STAMP)

# tests also cover the local-model backends: CPU torch first, so the [llm] extra doesn't pull CUDA
$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q '$(TORCH)'
	$(PY) -m pip install -q -e '.[dev,llm,adapt]'
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

# some tests draw Chinese text or read PDFs that name a Chinese font without embedding it (pdfium then takes a
# system one): without a CJK font they are skipped, so install one where we can (root with apt-get)
fonts:
	@[ -f $(NOTO) ] || fc-list :lang=zh 2>/dev/null | grep -q . \
	|| { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq \
	     && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null; } \
	|| echo "no CJK font (apt-get install fonts-noto-cjk): the tests that need one are skipped"

# the web page's end-to-end test drives headless Chromium: without Debian's chromium and chromium-driver it is
# skipped, so install them where we can (root with apt-get)
browser:
	@{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } \
	|| { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq \
	     && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver \
	     >/dev/null; } \
	|| echo "no headless Chromium (apt-get install chromium chromium-driver): the web page's test is skipped"

test: $(TEST_STAMP) typecheck fonts browser
	$(PY) -m pytest -q

# mypy over src/ (settings in pyproject.toml)
typecheck: $(TEST_STAMP)
	$(PY) -m mypy

# everything but the slow end-to-end runs over ../shared data
test-fast: $(TEST_STAMP) fonts
	$(PY) -m pytest -q -m "not slow"

# numbers behind docs/benchmarks.md; needs ../shared/data; the first build embeds 4.2M chars (~40 min)
bench: $(TEST_STAMP)
	$(PY) benchmarks/ingest_news.py
	$(PY) benchmarks/build_eval_index.py --resume
	$(PY) benchmarks/query_latency.py
	$(PY) benchmarks/pdf_speed.py
	$(PY) benchmarks/table_quality.py
	$(PY) benchmarks/prefix_cache.py --repeats 3 --threads 1
	$(PY) benchmarks/rerank_overhead.py
	$(PY) benchmarks/ask_latency.py --repeats 3
	bash benchmarks/eval_baselines.sh

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache demo_index
