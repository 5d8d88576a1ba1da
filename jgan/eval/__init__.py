"""Evaluation: score image sets and trained runs with provenance (see `jgan.eval.api`)."""
from jgan.eval.api import METRICS, evaluate, evaluate_run, parse_metrics, reference_features, score_features

__all__ = ["METRICS", "evaluate", "evaluate_run", "parse_metrics", "reference_features", "score_features"]
