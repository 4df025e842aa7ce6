# Two entry points a new clone needs (see README): `make render` and `make test`.
# Both create the virtual environment when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
OUT    ?= gitops-repo

CHECKOV_VENV := .venv-checkov

.PHONY: venv render validate test bench checkov clean

$(PY): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(PY)

venv: $(PY)

## checkov (Kubernetes static analysis) in a venv of its own; tests/test_checkov.py runs it over every overlay.
$(CHECKOV_VENV)/bin/checkov: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $(CHECKOV_VENV)/bin/checkov

checkov: $(CHECKOV_VENV)/bin/checkov

## Render every stack's part of the example GitOps repository into $(OUT)/ and validate it.
render: $(PY)
	$(PY) -m gitops render --all --out $(OUT)
	$(PY) -m gitops validate $(OUT)

validate: $(PY)
	$(PY) -m gitops validate $(OUT)

## The test suite (parallel on both cores); includes checkov over every overlay.
test: $(PY) $(CHECKOV_VENV)/bin/checkov
	$(PY) -m pytest -q -n 2

## Benchmarks (numbers for the issue notes; not part of the tests).
bench: $(PY)
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_program.py
	$(PY) benchmarks/bench_diff.py

clean:
	rm -rf $(OUT) .pytest_cache $(CHECKOV_VENV)
