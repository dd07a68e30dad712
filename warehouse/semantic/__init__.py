"""The semantic layer: measures and dimensions of the warehouse, query specs over them, their SQL."""

from warehouse.semantic.compiler import compile_spec
from warehouse.semantic.generated import build_layer, generate
from warehouse.semantic.layer import Dimension, LayerError, Measure, SemanticLayer
from warehouse.semantic.query import run_query
from warehouse.semantic.spec import SpecBase, as_dict, spec_model

__all__ = [
    "Dimension",
    "LayerError",
    "Measure",
    "SemanticLayer",
    "SpecBase",
    "as_dict",
    "build_layer",
    "compile_spec",
    "generate",
    "run_query",
    "spec_model",
]
