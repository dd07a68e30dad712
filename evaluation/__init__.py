"""The evaluation harness behind ``uba eval``: behavior questions with gold SQL, scored per answer."""

from evaluation.runner import EvalReport, run_eval
from evaluation.suite import SETS, EvalQuestion, assign_splits, load_questions, select

__all__ = ["SETS", "EvalQuestion", "EvalReport", "assign_splits", "load_questions", "run_eval", "select"]
