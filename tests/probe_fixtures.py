"""A tiny GPT-2 with its own byte-level BPE tokenizer, and a small SST-2 in GLUE's layout, all built
here, so the probe runs through the real loading, prompt and metric code without any network."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

WORDS = [
    "good",
    "bad",
    "great",
    "awful",
    "fine",
    "dull",
    "lovely",
    "boring",
    "film",
    "movie",
    "plot",
    "actor",
    "story",
    "the",
    "a",
    "is",
    "was",
    "very",
    "not",
]


def sst2_frames(n_train: int = 40, n_dev: int = 12, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def sentences(n: int) -> pd.DataFrame:
        rows = [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(n)]
        return pd.DataFrame({"sentence": rows, "label": rng.integers(0, 2, size=n)})

    return sentences(n_train), sentences(n_dev)


def write_sst2(directory: Path, **kwargs) -> Path:
    """GLUE's train.tsv and dev.tsv (tab-separated, header `sentence<TAB>label`)."""
    directory.mkdir(parents=True, exist_ok=True)
    train, dev = sst2_frames(**kwargs)
    train.to_csv(directory / "train.tsv", sep="\t", index=False)
    dev.to_csv(directory / "dev.tsv", sep="\t", index=False)
    return directory


def sst2_zip(path: Path) -> Path:
    """The archive as GLUE ships it: SST-2/train.tsv, SST-2/dev.tsv."""
    train, dev = sst2_frames()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("SST-2/train.tsv", train.to_csv(sep="\t", index=False))
        archive.writestr("SST-2/dev.tsv", dev.to_csv(sep="\t", index=False))
    path.write_bytes(buffer.getvalue())
    return path


def tiny_gpt2(directory: Path, layers: int = 2, heads: int = 2) -> Path:
    """A randomly initialised GPT-2 and a byte-level BPE tokenizer trained on the fixture's words;
    'Positive' and 'Negative' are not among them, so the labels split into several tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    corpus = [" ".join(WORDS), "Review: the film\nSentiment: good"] * 20
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    eos = fast.eos_token_id
    config = GPT2Config(
        vocab_size=fast.vocab_size,
        n_positions=512,
        n_embd=32,
        n_layer=layers,
        n_head=heads,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    model = GPT2LMHeadModel(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory
