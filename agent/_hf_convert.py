"""Convert a GGUF file into a Hugging Face model directory vLLM can load (run by ``uba llm convert``).

Runs as a script in the vLLM interpreter (``python _hf_convert.py GGUF OUT``), offline, and
imports nothing of uba's. The result is written beside ``OUT`` and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` to bfloat16 safetensors plus tokenizer and chat template in ``out``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent),
            gguf_file=gguf.name,
            quantization_config=GgufConfig(dequantize=True),
            dtype=torch.bfloat16,
        )
        model.save_pretrained(str(tmp))
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tokenizer.save_pretrained(str(tmp))
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: _hf_convert.py GGUF_FILE OUT_DIR")
    convert(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
