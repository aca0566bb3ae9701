"""Which documents an LLM reads for one period and segment, within a token budget.

Newest first, but taken in turns across document kinds (tickets, meeting notes,
chat...) so one prolific source cannot crowd out the others, and exact duplicate
texts read once. A document larger than what is left of the budget is skipped
for a smaller, older one rather than ending the selection.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from models.llm.cost import estimate_tokens

PER_DOCUMENT_OVERHEAD = 12  # tokens of the <document ...> wrapper around each text


@dataclass(frozen=True)
class Selection:
    documents: pd.DataFrame  # doc_id, doc_ts, kind, segment_id, text (newest first within kind)
    available: int
    tokens: int
    duplicates_skipped: int


def select_documents(docs: pd.DataFrame, token_budget: int) -> Selection:
    """Pick documents for a reader with ``token_budget`` tokens.

    Parameters
    ----------
    docs : DataFrame
        Candidate documents with doc_id, doc_ts, kind, segment_id and text.
    token_budget : int
        Tokens the documents may take in the prompt.

    Returns
    -------
    Selection
        The chosen documents, how many were available, their estimated tokens and
        how many duplicate texts were skipped.
    """
    if token_budget <= 0:
        raise ValueError(f"token_budget must be positive, got {token_budget}")
    ordered = docs.sort_values(["doc_ts", "doc_id"], ascending=[False, True], kind="stable")
    unique = ordered.drop_duplicates("text", keep="first")
    queues = {kind: list(group.itertuples(index=False)) for kind, group in unique.groupby("kind", sort=True)}
    chosen, used = [], 0
    while any(queues.values()):
        for kind in sorted(queues):
            queue = queues[kind]
            while queue:
                doc = queue.pop(0)
                cost = estimate_tokens(doc.text) + PER_DOCUMENT_OVERHEAD
                if used + cost <= token_budget:
                    chosen.append(doc)
                    used += cost
                    break
    frame = pd.DataFrame(chosen, columns=unique.columns) if chosen else unique.iloc[0:0]
    return Selection(frame.reset_index(drop=True), len(docs), used, len(ordered) - len(unique))
