"""The offline reader of qualitative metrics: a small, documented sentiment lexicon.

Each lexicon word adds a valence of +2 or -2 (VADER's scale); a negation word
within the three words before flips it ("not happy"), an intensifier ("very",
"really") before it weighs 1.5. The sum s is normalised as VADER does,
s / sqrt(s^2 + 15), into (-1, 1): one word reads about +-0.46, three about +-0.84,
so a single word never claims the end of the scale. A document with no lexicon
word carries no evidence and is left out.
It is deterministic and free, and labelled ``text_scored`` wherever it is used:
a fallback that keeps the pipeline whole offline, not a substitute for reading.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

POSITIVE = frozenset("""
appreciate appreciated awesome best brilliant calm confident delighted easy effective efficient energised energized
enjoy enjoyed excellent excited fantastic fast fine glad good great happy helpful impressed improve improved
improving love loved motivated nice perfect pleased positive productive proud quick recommend reliable resolved
satisfied smooth solid strong success successful superb supportive thank thanks thrilled wonderful
""".split())
NEGATIVE = frozenset("""
angry annoyed annoying anxious awful bad blocked broken burning burnout cancel cancelling chaos confused crash
crashes demoralised demoralized disappointed disappointing exhausted fail failed failing failure fed frustrated
frustrating furious horrible issue issues late low miserable overloaded overwhelmed painful poor problem problems
quit slow struggling stressed stressful terrible tired unacceptable unhappy upset useless worried worse worst
""".split())
NEGATIONS = frozenset("not no never hardly nobody none nothing neither nor without isn't wasn't don't doesn't didn't can't won't".split())
CONTRASTS = frozenset("but however although though yet".split())
INTENSIFIERS = frozenset("very really extremely so totally incredibly absolutely".split())
NEGATION_WINDOW = 3
VALENCE = 2.0
ALPHA = 15.0  # VADER's normalisation constant
_WORD = re.compile(r"[a-z']+")


def score_text(text: str) -> float | None:
    """Sentiment of one text in [-1, 1], or None when it holds no lexicon word."""
    words = _WORD.findall(text.lower())
    total, hits = 0.0, 0
    for i, word in enumerate(words):
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if not polarity:
            continue
        before = words[max(0, i - NEGATION_WINDOW):i]
        for j in range(len(before) - 1, -1, -1):  # "not urgent but annoying": 'but' ends the negation
            if before[j] in CONTRASTS:
                before = before[j + 1:]
                break
        if any(w in NEGATIONS for w in before):
            polarity = -polarity
        weight = 1.5 if before and before[-1] in INTENSIFIERS else 1.0
        total += polarity * weight * VALENCE
        hits += 1
    if hits == 0:
        return None
    return total / math.sqrt(total * total + ALPHA)


def score_texts(texts: pd.Series) -> np.ndarray:
    """:func:`score_text` of every text, NaN where a text holds no lexicon word (or is missing).

    Each distinct text is scored once: the score depends on the text alone, and tickets written from
    templates repeat (the demo's 2.1M tickets at 50M events hold 80 distinct texts).
    """
    codes, uniques = pd.factorize(texts)
    scores = np.array([np.nan if (score := score_text(text)) is None else score for text in uniques], dtype=float)
    out = np.full(len(codes), np.nan)
    out[codes >= 0] = scores[codes[codes >= 0]]
    return out


def to_scale(score: float, low: float, high: float) -> float:
    """Map a [-1, 1] score onto the metric's scale."""
    return low + (score + 1) / 2 * (high - low)
