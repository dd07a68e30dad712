"""The evaluation harness behind ``uba eval``: behavior questions with gold SQL, scored per answer."""

from agent.evaluation.runner import EvalReport, run_eval
from agent.evaluation.suite import EvalQuestion, load_questions

__all__ = ["EvalQuestion", "EvalReport", "load_questions", "run_eval"]
