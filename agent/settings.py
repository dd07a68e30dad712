"""The one Settings object: environment variables prefixed ``UBA_``, read only by the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of uba; precedence is explicit argument > environment (``UBA_*``) > default."""

    model_config = SettingsConfigDict(env_prefix="UBA_", extra="ignore")

    data_dir: Path = Field(Path(".uba"), description="Where the warehouse, index, models and memory live.")
    warehouse_url: str | None = Field(
        None,
        description="URL of the behavior warehouse: duckdb:///file, postgresql+psycopg://..., chdb:///dir[?database=name] "
        "(ClickHouse in process) or clickhouse://user:pass@host:8123/db (a ClickHouse server); default: a DuckDB file in "
        "the data dir.",
    )
    # --- safe SQL and analytics (warehouse/sql_guard.py, warehouse/readonly.py) ---
    readonly_url: str | None = Field(
        None,
        description="URL of the read-only connection; default: the warehouse URL (DuckDB and chdb opened read-only) "
        "or, on PostgreSQL and a ClickHouse server, that URL as the role/user `readonly_role` (ClickHouse: on the "
        "database <db>_uba_reader).",
    )
    readonly_role: str = Field(
        "uba_reader",
        min_length=1,
        description="PostgreSQL role or ClickHouse user that may only SELECT (created by `uba warehouse grant-readonly`).",
    )
    query_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="Seconds one query may run before it is stopped (every engine)."
    )
    sql_default_limit: int = Field(200, ge=1, le=100_000, description="LIMIT added to a query that has none.")
    sql_max_limit: int = Field(
        10_000, ge=1, le=1_000_000, description="Largest LIMIT a query may have; also the row cap of a result."
    )
    query_memory_mb: int = Field(
        2048,
        ge=64,
        le=1_048_576,
        description="Memory budget in MB that the read-only queries share (DuckDB memory_limit, split across "
        "the reader's connections; PostgreSQL work_mem is fixed on the reader role; ClickHouse max_memory_usage "
        "per query).",
    )
    max_result_bytes: int = Field(
        16_000_000, ge=1_000, description="Byte cap of one query result (rows past it are dropped)."
    )
    min_group_users: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Breakdowns over users (the query, funnel and retention tools): a row computed from fewer distinct users than this "
        "has its value suppressed and the answer says so; 0 = off. For unscoped callers (the operator's keys).",
    )
    min_group_users_scoped: int = Field(
        5,
        ge=0,
        le=1_000_000,
        description="The same minimum for a key scoped to one end user; that user's own rows do not count towards "
        "it (seeing your own data discloses nobody else). 0 = off.",
    )
    semantic_layer: Path | None = Field(
        None,
        description="YAML file extending the generated semantic layer (measures, dimensions, remove); "
        "default: semantic.yaml in the data dir when it exists.",
    )
    # --- LLM backends (agent/llm.py) ---
    llm_backend: Literal["local", "vllm", "openai", "fake"] = Field(
        "local",
        description="Which LLM answers: embedded llama.cpp, vLLM, any OpenAI-compatible URL, or the scripted fake.",
    )
    llm_model: str = Field(
        "qwen2.5-coder-1.5b",
        description="A bundled model name, a GGUF file (local), a model directory (vLLM serve) or a served model name.",
    )
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL (openai backend, or an existing vLLM server; e.g. http://host:8000/v1).",
    )
    llm_api_key: SecretStr | None = Field(None, description="API key sent to the OpenAI-compatible server.")
    llm_timeout_s: float = Field(120.0, gt=0, description="Seconds one model call may take before it fails.")
    llm_max_tokens: int = Field(512, gt=0, description="Most tokens one model call may generate.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0: deterministic).")
    llm_max_model_len: int = Field(8192, gt=0, description="Context length: llama.cpp n_ctx and vLLM --max-model-len.")
    llm_threads: int | None = Field(None, gt=0, description="CPU threads for the embedded model; default: every core.")
    llm_fake_rules: Path | None = Field(
        None,
        description="YAML rules for the fake backend (question regex -> tool call -> answer); tests and load runs.",
    )
    vllm_python: Path = Field(
        Path(".venv-vllm/bin/python"),
        description="Python interpreter of the separate venv that has vLLM (make vllm-env).",
    )
    vllm_host: str = Field("127.0.0.1", description="Address the managed vLLM server listens on.")
    vllm_port: int = Field(8011, gt=0, lt=65536, description="Port the managed vLLM server listens on.")
    vllm_gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="vLLM --gpu-memory-utilization.")
    vllm_tensor_parallel_size: int = Field(1, gt=0, description="vLLM --tensor-parallel-size (GPUs per replica).")
    vllm_tool_call_parser: str | None = Field(
        None,
        description="vLLM --tool-call-parser; default chosen by model family (hermes for Qwen, llama3_json for Llama 3.1).",
    )
    vllm_start_timeout_s: float = Field(
        900.0, gt=0, description="Seconds to wait for the managed vLLM server to be healthy."
    )
    vllm_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto",
        description="vLLM --dtype: auto (the checkpoint's), bfloat16, float16 or float32 (CPUs without bf16 units).",
    )
    vllm_enforce_eager: bool = Field(
        False,
        description="vLLM --enforce-eager: no torch.compile/CUDA graphs; starts in about a minute, decodes slower.",
    )
    # --- the agent (agent/graph.py, agent/analyst.py) ---
    agent_max_steps: int = Field(6, gt=0, le=50, description="Most model calls the agent makes for one question.")
    agent_max_seconds: float = Field(180.0, gt=0, description="Wall time one question may take before the agent stops.")
    agent_history_turns: int = Field(
        3, ge=0, description="Earlier questions of a thread the model sees with a follow-up."
    )
    agent_first_step: Literal["tool", "auto"] = Field(
        "tool",
        description="tool: until a tool returned data the model must call a tool (or reply, to answer without data); "
        "auto: it may also write text.",
    )
    agent_answer_hint: bool = Field(
        True,
        description="After tool results, remind the model to answer briefly from them (or call the tool that is "
        "still missing); before a later question's first call in a thread, to keep what it does not change.",
    )
    agent_answer_after_results: bool = Field(
        True,
        description="After successful tool results the next model step answers from them (no tool), unless the "
        "question asks for what a tool not yet run gives (a prediction for the user a ranking found) or a "
        "result's note asks for a corrected call. false: the model may call more tools.",
    )
    agent_demonstrations: int = Field(
        3,
        ge=0,
        le=8,
        description="Before a question's first call, show the model this many demonstrations (a short question "
        "and its call) nearest the question: generated from the semantic layer for `query`, from "
        "prompts/demonstrations.yaml for the other tools (sentence embeddings with the review embedder). 0: none.",
    )
    agent_abstain: bool = Field(
        True,
        description='Answer "the data has no X" without a model call when a question asks for a quantity '
        '("the average age of", "what\'s our profit margin") whose head word no measure, dimension, value, '
        "behavior, synonym or column names (warehouse/semantic/coverage.py). Add a synonym in the layer file "
        "when the data has it under another name.",
    )
    agent_schema_linking: bool = Field(
        False,
        description="Before a question's first call, show the model the semantic layer's measures, dimensions, "
        "grain and values nearest the question (sentence embeddings with the review embedder, plus name words). "
        "Off by default: with the embedded 1.5B model it did not raise the dev split and it pulled refusals "
        "and user lookups toward data queries (docs/evaluation.md).",
    )
    agent_result_rows: int | None = Field(
        None,
        gt=0,
        le=200,
        description="Most table rows of one tool result the model reads (the Answer keeps every row); default: 8 on "
        "the local backend (a CPU reads prompts slowly), 20 on the others.",
    )
    agent_result_chars: int | None = Field(
        None,
        ge=200,
        le=100_000,
        description="Most characters of one tool result's table the model reads; default: 1500 on the local backend, "
        "4000 on the others.",
    )
    memory_url: str | None = Field(
        None,
        description="Conversation memory: sqlite:///path or postgresql://...; default: SQLite in the data dir, "
        "or the warehouse's PostgreSQL database when the warehouse is PostgreSQL.",
    )
    # --- review index (vectorstore/) ---
    review_keep_pii: bool = Field(
        False,
        description="Store review titles and bodies as read at ingest; default: e-mail addresses, phone numbers, "
        "links, card/IBAN/IP numbers replaced by placeholders. The review index and quotes are redacted either way.",
    )
    chroma_url: str | None = Field(
        None, description="URL of a Chroma server (`chroma run`); default: a Chroma directory in the data dir."
    )
    reviews_collection: str = Field("reviews", min_length=3, description="Chroma collection holding the review index.")
    embedding_model: str | None = Field(
        None,
        description="Local sentence-transformers model folder or cached name; default: the packaged all-MiniLM-L6-v2.",
    )
    embedding_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where embeddings run: auto = cuda if present."
    )
    embedding_threads: int = Field(1, ge=0, description="torch CPU threads for embeddings (0: torch's default).")
    embedding_batch_size: int = Field(
        16, gt=0, description="Texts per forward pass (16 beat 64 by 1.2-1.3x with int8 on the CPU)."
    )
    embedding_max_tokens: int | None = Field(
        128, gt=0, description="Truncate texts to this many tokens when embedding (at most the model's own limit, 256)."
    )
    embedding_quantize: Literal["none", "int8"] = Field(
        "int8",
        description="int8: Linear weights quantized per channel on the CPU (faster); none: float (always on CUDA).",
    )
    # --- web app and HTTP API (ui/api, ui/web) ---
    serve_host: str = Field("127.0.0.1", description="Address `uba serve` listens on.")
    serve_port: int = Field(7860, gt=0, lt=65536, description="Port `uba serve` listens on.")
    api_auth: Literal["auto", "keys", "none"] = Field(
        "auto", description="API keys required: auto = not on a loopback host with no keys created (dev mode)."
    )
    api_max_body_bytes: int = Field(65536, gt=0, description="Largest request body the API accepts (413 above).")
    api_max_message_chars: int = Field(4000, gt=0, description="Longest question the API accepts (413 above).")
    api_rate_per_min: int = Field(
        60, gt=0, description="Questions per minute per key (or per dev-mode caller) unless the key sets its own."
    )
    api_question_timeout_s: float = Field(
        300.0, gt=0, description="Seconds one question may run before the API answers 503."
    )
    api_concurrency: int = Field(
        8, gt=0, le=256, description="Questions answered at once by `uba serve`; more wait in line."
    )
    # --- watching: saved reports and alerts (watch/) ---
    watch_scheduler: bool = Field(True, description="`uba serve` runs saved reports and alerts on their schedules.")
    watch_anomaly_z: float = Field(
        4.0,
        gt=0,
        le=20,
        description="Alert band half-width in robust standard deviations around the seasonal "
        "median (docs/watch.md measures precision, recall and false alarms per value).",
    )
    watch_webhook_retries: int = Field(4, ge=0, le=10, description="Retries of a failed webhook delivery.")
    watch_webhook_backoff_s: float = Field(
        2.0, gt=0, le=300, description="Seconds before the first webhook retry; each later wait doubles."
    )
    # --- predictor (predictor/, tools/predictions.py) ---
    predictor_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the next-item model trains and predicts: auto = CUDA when present."
    )
    predictor_threads: int = Field(
        1, ge=0, description="CPU threads for training and prediction (torch and the trees); 0 = all cores."
    )
    predictor_max_minutes: float = Field(10.0, gt=0, description="Wall-time budget of `uba train next`.")
    predictor_ease_max_mb: float = Field(
        2048.0,
        ge=0,
        description="Memory cap of the EASE candidate's dense fit in `uba train next`; a larger "
        "catalogue skips EASE (about 24 bytes x items squared).",
    )

    def resolved_warehouse_url(self) -> str:
        """The warehouse URL, defaulting to ``duckdb:///<data_dir>/warehouse.duckdb``."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb:///{(self.data_dir / 'warehouse.duckdb').resolve()}"


def settings_error_text(exc: ValidationError) -> str:
    """A failed ``Settings()`` as one line per bad variable, named as the user set it (UBA_...)."""
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        got = f" (got {err['input']!r})" if err["type"] != "missing" else ""
        lines.append(f"invalid setting UBA_{field.upper()}{got}: {err['msg']}; fix it or unset it")
    return "\n".join(lines)
