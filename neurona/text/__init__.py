"""Text: tokenizers, vocabularies, and batching token sequences.

    from neurona.text import CharTokenizer, WordTokenizer, SubwordTokenizer, Vocab
    from neurona.text import pad_batch, collate_text, batchify, lm_batches, char_windows

The corpora themselves (rt-polarity, SST-2, Penn Treebank, Universal Dependencies,
tiny-shakespeare) are loaded by :mod:`neurona.datasets`.  ``SubwordTokenizer`` needs
the optional ``tokenizers`` package: ``pip install 'neurona[text]'``.
"""
from .batching import batchify, char_windows, collate_text, lm_batches, pad_batch
from .tokenizers import CharTokenizer, SubwordTokenizer, WordTokenizer, tokenizer_from_dict
from .vocab import DEFAULT_SPECIALS, Vocab, check_vocab_matches

__all__ = ["CharTokenizer", "WordTokenizer", "SubwordTokenizer", "tokenizer_from_dict", "Vocab", "DEFAULT_SPECIALS",
           "check_vocab_matches", "pad_batch", "collate_text", "batchify", "lm_batches",
           "char_windows"]
