# The two commands a fresh clone needs:  `make app`  and  `make test`.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
PORT ?= 8501

.PHONY: app test test-fast setup bench
app:            ## set up .venv if needed, then start the app on the embedded sample catalog
	@scripts/setup.sh
	.venv/bin/python -m streamlit run app.py --server.port=$(PORT)

test:           ## set up .venv (+ chromium) if needed, then run every test, slow and browser ones included
	@scripts/setup.sh --test
	.venv/bin/python -m pytest -m "" $(PYTEST_ARGS)

test-fast:      ## the quick subset: no pretrained models, no browser
	.venv/bin/python -m pytest $(PYTEST_ARGS)

bench:
	.venv/bin/python -m recsys bench
