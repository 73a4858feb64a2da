"""Few-shot SST-2 prompts and where each part sits, in characters and then in tokens.

Format (paper Sec. 6, App. N): `Review: {text}\\nSentiment: {label}` for each of k demonstrations,
joined by newlines, then `Review: {text}\\nSentiment:` for the query, with no trailing space
(docs/method.md). Token positions come from the tokenizer's character offsets, so a label that
splits into several tokens, or a review whose first word merges with the space before it, is still
found exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from icmeta.probe import ProbeError

SELECTIONS = ("one_per_class", "random")


@dataclass(frozen=True)
class Prompt:
    text: str
    reviews: tuple[tuple[int, int], ...]  # character span of each demonstration's review
    labels: tuple[tuple[int, int], ...]  # character span of each demonstration's label word
    demo_labels: tuple[int, ...]
    query_label: int


@dataclass(frozen=True)
class Positions:
    """Token indices of one tokenized prompt."""

    query: int  # the last prompt token (the ':' of the final 'Sentiment:')
    labels: tuple[tuple[int, ...], ...]  # tokens of each demonstration's label
    reviews: tuple[tuple[int, ...], ...]  # tokens of each demonstration's review


def build_prompt(
    demos: Sequence[tuple[str, int]], query: tuple[str, int], label_names: Sequence[str]
) -> Prompt:
    parts: list[str] = []
    reviews, labels = [], []
    length = 0

    def add(piece: str) -> tuple[int, int]:
        nonlocal length
        parts.append(piece)
        span = (length, length + len(piece))
        length += len(piece)
        return span

    for sentence, label in demos:
        add("Review: ")
        reviews.append(add(sentence))
        add("\nSentiment: ")
        labels.append(add(label_names[label]))
        add("\n")
    add("Review: ")
    add(query[0])
    add("\nSentiment:")
    return Prompt("".join(parts), tuple(reviews), tuple(labels), tuple(d[1] for d in demos), query[1])


def select_demos(
    train: pd.DataFrame, k: int, selection: str, rng: np.random.Generator
) -> list[tuple[str, int]]:
    """k demonstrations from the train split: `one_per_class` takes k / (number of classes) of each
    class in random order (the paper's 2-shot prompt has one of each); `random` takes any k."""
    if selection == "random":
        rows = train.iloc[rng.choice(len(train), size=k, replace=False)]
    elif selection == "one_per_class":
        classes = sorted(train["label"].unique())
        if k % len(classes):
            raise ProbeError(
                f"probe.prompts.k = {k} must be a multiple of the {len(classes)} classes "
                f"for selection 'one_per_class'"
            )
        picks = [
            train[train["label"] == c].iloc[
                rng.choice((train["label"] == c).sum(), size=k // len(classes), replace=False)
            ]
            for c in classes
        ]
        rows = pd.concat(picks).iloc[rng.permutation(k)]
    else:
        raise ProbeError(f"probe.prompts.selection = {selection!r}; use one of {', '.join(SELECTIONS)}")
    return list(zip(rows["sentence"], rows["label"], strict=True))


def make_prompts(
    train: pd.DataFrame, queries: pd.DataFrame, k: int, selection: str, seed: int, label_names: Sequence[str]
) -> list[Prompt]:
    """One prompt per query, each with its own demonstrations drawn from `seed` (so a prompt depends
    only on the seed and the query's index, not on how many queries are probed)."""
    prompts = []
    for i, (sentence, label) in enumerate(zip(queries["sentence"], queries["label"], strict=True)):
        rng = np.random.default_rng([seed, i])
        prompts.append(
            build_prompt(select_demos(train, k, selection, rng), (sentence, int(label)), label_names)
        )
    return prompts


def tokens_in(offsets: Sequence[tuple[int, int]], span: tuple[int, int]) -> tuple[int, ...]:
    """Indices of the tokens whose characters overlap `span` (special tokens have empty offsets)."""
    a, b = span
    return tuple(i for i, (s, e) in enumerate(offsets) if e > s and s < b and e > a)


def locate(prompt: Prompt, offsets: Sequence[tuple[int, int]]) -> Positions:
    """Token positions of a prompt from its tokenization's character offsets."""
    labels = tuple(tokens_in(offsets, span) for span in prompt.labels)
    reviews = tuple(tokens_in(offsets, span) for span in prompt.reviews)
    for kind, found in (("label", labels), ("review", reviews)):
        if any(not tokens for tokens in found):
            raise ProbeError(f"a demonstration's {kind} has no tokens in the prompt {prompt.text[:80]!r}...")
    return Positions(query=len(offsets) - 1, labels=labels, reviews=reviews)
