"""Score normalizations shared by plugins (kube-scheduler's DefaultNormalizeScore)."""

from __future__ import annotations

from cluster.scheduler.framework.interfaces import MAX_NODE_SCORE


def scale_to_max(scores: list[int], *, reverse: bool = False) -> None:
    """Scale in place so the highest raw score becomes MAX_NODE_SCORE; `reverse`: lowest is best.

    All zeros stay 0 (or all become MAX_NODE_SCORE when reversed: nobody is penalized).
    """
    highest = max(scores, default=0)
    for i, score in enumerate(scores):
        scaled = MAX_NODE_SCORE * score // highest if highest else 0
        scores[i] = MAX_NODE_SCORE - scaled if reverse else scaled
