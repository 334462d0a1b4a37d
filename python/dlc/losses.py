"""Losses: each a scalar, the mean over the batch, as registered ops.

Pass the result to :meth:`dlc.Graph.train` as ``loss=``.
"""

from typing import Optional

from .graph import Value


def softmax_cross_entropy(logits: Value, labels: Value, name: Optional[str] = "loss") -> Value:
    """Cross-entropy of softmax(logits) against integer class labels."""
    return logits.graph.op("softmax_cross_entropy", logits, labels, name=_free(logits, name))


def sigmoid_binary_cross_entropy(logits: Value, targets: Value, name: Optional[str] = "loss") -> Value:
    """Binary cross-entropy of sigmoid(logits) against 0/1 targets."""
    return logits.graph.op("sigmoid_binary_cross_entropy", logits, targets, name=_free(logits, name))


def mse(prediction: Value, target: Value, name: Optional[str] = "loss") -> Value:
    """Mean squared error."""
    return prediction.graph.op("mse", prediction, target, name=_free(prediction, name))


def l1(prediction: Value, target: Value, name: Optional[str] = "loss") -> Value:
    """Mean absolute error."""
    return prediction.graph.op("l1", prediction, target, name=_free(prediction, name))


def multiclass_hinge(scores: Value, labels: Value, name: Optional[str] = "loss") -> Value:
    """Sum over wrong classes of max(0, s_j - s_true + 1), averaged over rows."""
    return scores.graph.op("multiclass_hinge", scores, labels, name=_free(scores, name))


def logistic(f: Value, labels: Value, name: Optional[str] = "loss") -> Value:
    """log(1 + e^(-y f)) with labels y in {-1, 1}."""
    return f.graph.op("logistic", f, labels, name=_free(f, name))


def _free(v: Value, name: Optional[str]) -> Optional[str]:
    """``name`` when the graph does not use it yet; otherwise a fresh one."""
    if name is None or name not in v.graph:
        return name
    return v.graph.fresh_name(name)
