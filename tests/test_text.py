"""Text: tokenizers, Vocab, padding/batching, and the text corpora (real files from
../shared/data: these tests fail, not skip, when it is missing)."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from conftest import shared_data_dir
from neurona import datasets
from neurona.datasets import DatasetFileError
from neurona.datasets.text import (batchify, char_windows, lm_batches, ptb, read_conllu,
                                   rt_polarity, split_rt_polarity, sst2, text_corpus,
                                   tiny_shakespeare, ud_treebank)
from neurona.text import (CharTokenizer, SubwordTokenizer, Vocab, WordTokenizer,
                          check_vocab_matches, collate_text, pad_batch)

CORPUS = ["the cat sat on the mat .", "the dog sat on the log !",
          "a cat and a dog , friends ?", "Hello, World! It's a test."] * 20


# -- tokenizers ------------------------------------------------------------------------
def test_char_tokenizer_round_trip_and_unknowns():
    tok = CharTokenizer().fit("hello world")
    assert tok.itos == sorted(set("hello world")) and len(tok) == 8
    ids = tok.encode("low dew" [:3] + " world")
    assert tok.decode(ids) == "low world"
    assert tok.decode(np.array(ids)) == "low world"
    with pytest.raises(KeyError, match=r"'z'.*position 2"):
        tok.encode("hoz")
    unk = CharTokenizer(unknown="unk").fit("hello")
    assert unk.itos[0] == "<unk>" and unk.encode("hz") == [unk.stoi["h"], 0]
    with pytest.raises(RuntimeError, match="fit"):
        CharTokenizer().encode("a")


def test_word_tokenizer_lower_punctuation_vocab():
    assert WordTokenizer().tokenize("Hello, world! It's 3.5") == \
        ["Hello", ",", "world", "!", "It's", "3", ".", "5"]
    tok = WordTokenizer(lower=True)
    assert tok("Hello, World!") == ["hello", ",", "world", "!"]
    tok.fit(CORPUS, min_freq=2)
    ids = tok.encode("the cat sat on a zebra", add_bos_eos=True)
    assert ids[0] == 2 and ids[-1] == 3 and ids[-2] == 1        # <bos> ... <unk> <eos>
    assert tok.decode(ids) == "the cat sat on a <unk>"
    assert tok.decode(ids, skip_specials=False).startswith("<bos> the")


@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_subword_train_save_load_round_trip(tmp_path, model):
    size = 300 if model == "bpe" else 120          # byte-level BPE starts from 256 bytes
    tok = SubwordTokenizer.train(CORPUS, vocab_size=size, model=model)
    assert [tok.token_to_id(t) for t in ("<pad>", "<unk>", "<bos>", "<eos>")] == [0, 1, 2, 3]
    assert 4 < tok.vocab_size <= size
    text = "the cat sat on the mat ." if model == "bpe" else "the cat sat on the mat"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    if model == "bpe":                  # byte level: any text, exactly back
        odd = "Zebra! naïve café 🙂"
        assert tok.decode(tok.encode(odd)) == odd
    path = tok.save(tmp_path / "tokenizer.json")
    assert json.loads(path.read_text())["model"]["type"] == model.replace("bpe", "BPE") \
        .replace("wordpiece", "WordPiece")
    again = SubwordTokenizer.from_file(path)
    assert again.encode(text) == ids and again.vocab_size == tok.vocab_size
    assert again.pad_token == "<pad>"
    assert SubwordTokenizer.from_file(tmp_path).encode(text) == ids     # a folder works too


def test_subword_bos_eos_and_batch_padding_truncation():
    tok = SubwordTokenizer.train(CORPUS, vocab_size=100, model="wordpiece", add_bos_eos=True)
    with pytest.raises(ValueError, match="at least 260"):
        SubwordTokenizer.train(CORPUS, vocab_size=100, model="bpe")
    ids = tok.encode("the cat")
    assert ids[0] == 2 and ids[-1] == 3
    assert tok.decode(ids) == "the cat"
    texts = ["the cat", "the dog sat on the log", ""]
    plain = tok.encode_batch(texts)
    assert [len(x) for x in plain] == [len(tok.encode(t)) for t in texts]
    out = tok.encode_batch(texts, padding=True)
    lens = [len(x) for x in plain]
    assert out["input_ids"].shape == (3, max(lens))
    assert out["lengths"].tolist() == lens
    assert out["attention_mask"].numpy().sum(1).tolist() == lens
    assert out["input_ids"].numpy()[0, lens[0]:].tolist() == [0] * (max(lens) - lens[0])
    cut = tok.encode_batch(texts, padding="max_length", truncation=True, max_length=5)
    assert cut["input_ids"].shape == (3, 5)
    assert cut["input_ids"].numpy()[1, -1] == 3         # the end token survives truncation
    with pytest.raises(ValueError, match="max_length"):
        tok.encode_batch(texts, truncation=True)
    with pytest.raises(ValueError, match="truncation=True"):
        tok.encode_batch(texts, padding="max_length", max_length=3)


def test_subword_from_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        SubwordTokenizer.from_file(tmp_path / "nope.json")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer.json"):
        SubwordTokenizer.from_file(bad)


# -- Vocab ---------------------------------------------------------------------------------
def test_vocab_specials_min_freq_max_size_and_lookup():
    counts = Counter({"b": 5, "a": 5, "c": 3, "d": 1})
    v = Vocab.build(counts)
    assert v.itos == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", "d"]   # ties a-z
    assert v["a"] == 4 and v["zzz"] == 1 and "a" in v and "zzz" not in v
    assert v.lookup_indices(["b", "q"]) == [5, 1]
    assert v.lookup_tokens([4, 0, 6]) == ["a", "<pad>", "c"]
    assert v.lookup_tokens(np.array([4, 0]), skip_specials=True) == ["a"]
    assert Vocab.build(counts, min_freq=3).itos[4:] == ["a", "b", "c"]
    small = Vocab.build(counts, max_size=6)
    assert len(small) == 6 and small.itos[4:] == ["a", "b"]
    assert Vocab.build([["x", "y"], ["y"]]).itos[4:] == ["y", "x"]       # sentences counted
    with pytest.raises(IndexError, match="out of range"):
        v.lookup_tokens([99])
    strict = Vocab.build(counts, specials=(), unk_token=None)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        strict["zzz"]


def test_vocab_json_round_trip_atomic(tmp_path):
    v = Vocab.build(Counter("the cat é naïve the".split()))
    path = v.save(tmp_path / "sub" / "vocab.json")
    assert Vocab.load(path) == v
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]      # no temp left over
    (tmp_path / "bad.json").write_text('{"itos": [1,\n oops]}')
    with pytest.raises(ValueError, match=r"bad.json:2"):
        Vocab.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a neurona vocabulary"):
        Vocab.load(tmp_path / "other.json")


def test_check_vocab_matches():
    v = Vocab.build(Counter("a b c".split()))
    check_vocab_matches(v, 7)
    check_vocab_matches(v, np.zeros((7, 4)))

    class Emb:
        num_embeddings = 9
    with pytest.raises(ValueError, match=r"7 tokens but the model's Emb has 9"):
        check_vocab_matches(v, Emb())


# -- padding and batching ----------------------------------------------------------------------
def test_pad_batch_lengths_mask_layouts():
    padded, lengths, mask = pad_batch([[5, 6, 7], [8], np.array([9, 10])], pad_value=0)
    assert padded.dtype == np.int64 and str(lengths.dtype) == str(padded.dtype)
    assert padded.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert lengths.tolist() == [3, 1, 2]
    assert mask.tolist() == [[True] * 3, [True, False, False], [True, True, False]]
    p2, _, m2 = pad_batch([[5, 6, 7], [8]], pad_value=-1, batch_first=False)
    assert p2.shape == (3, 2) and p2.tolist() == [[5, 8], [6, -1], [7, -1]]
    assert m2.tolist() == [[True, True], [True, False], [True, False]]
    assert pad_batch([[1, 2, 3]], max_length=2)[0].tolist() == [[1, 2]]


def test_pad_batch_empty_sentences():
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        pad_batch([[1, 2], []])
    padded, lengths, mask = pad_batch([[1, 2], []], empty="pad")
    assert padded.tolist() == [[1, 2], [0, 0]]
    assert lengths.tolist() == [2, 1] and mask.tolist() == [[True, True], [True, False]]
    with pytest.raises(ValueError, match="no sequences"):
        pad_batch([])
    with pytest.raises(TypeError, match="integers"):
        pad_batch([[0.5, 1.5]])


def test_collate_text_with_dataloader():
    from neurona.utils.data import DataLoader
    data = [([1, 2, 3], 0), ([4], 1), ([5, 6], 1)]
    padded, lengths, labels = collate_text(data)
    assert padded.shape == (3, 3) and lengths.tolist() == [3, 1, 2]
    assert labels.tolist() == [0, 1, 1] and labels.dtype == np.int64
    batches = list(DataLoader(data, batch_size=2, collate_fn=collate_text))
    assert [b[0].shape for b in batches] == [(2, 3), (1, 2)]
    assert collate_text([([1], 0.5)])[2].dtype == np.float32


def test_batchify_lm_batches_char_windows():
    ids = np.arange(26)
    s = batchify(ids, 4)                 # 6 rows, 2 tokens dropped
    assert s.shape == (6, 4) and s.numpy()[:, 1].tolist() == list(range(6, 12))
    wins = list(lm_batches(s, bptt=4))
    assert [w[0].shape for w in wins] == [(4, 4), (1, 4)]
    x, y = wins[0]
    assert (y.numpy() == x.numpy() + 1).all()
    assert wins[1][0].numpy()[0].tolist() == s.numpy()[4].tolist()
    X, Y = char_windows(np.arange(11), seq_len=3)
    assert X.shape == (3, 3) and X.numpy()[1].tolist() == [3, 4, 5]
    assert (Y.numpy() == X.numpy() + 1).all()
    assert char_windows(np.arange(11), 3, stride=1)[0].shape == (8, 3)
    with pytest.raises(ValueError, match="too short"):
        batchify([1, 2], 3)


# -- files you make: SST-2 and CoNLL-U -------------------------------------------------------
def test_sst2_on_generated_tsv(tmp_path):
    folder = tmp_path / "SST-2"
    folder.mkdir()
    (folder / "train.tsv").write_text("sentence\tlabel\nit 's a charming journey . \t1\n"
                                      "a dull , lifeless film \t0\n", encoding="utf-8")
    (folder / "test.tsv").write_text("index\tsentence\n0\tuneasy mishmash .\n")
    train = sst2(tmp_path, "train")
    assert len(train) == 2 and train[0] == ("it 's a charming journey .", 1)
    assert train.labels == [1, 0]
    assert sst2(tmp_path, "test")[0] == ("uneasy mishmash .", -1)
    (folder / "dev.tsv").write_text("sentence\tlabel\ngood\t1\nbad\tmaybe\n")
    with pytest.raises(DatasetFileError, match=r"dev.tsv:3: label 'maybe'"):
        sst2(tmp_path, "dev")
    (folder / "dev.tsv").write_text("text\tlabel\n")
    with pytest.raises(DatasetFileError, match=r"dev.tsv:1: header"):
        sst2(tmp_path, "validation")
    with pytest.raises(FileNotFoundError, match="GLUE"):
        sst2(tmp_path / "nowhere", "train")


CONLLU = """# sent_id = 1
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t4:conj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def test_read_conllu_skips_ranges_and_empty_nodes(tmp_path):
    path = tmp_path / "x-ud-train.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    sents = read_conllu(path)
    assert len(sents) == 2
    assert sents[0].form == ["I", "ca", "n't", "go", "."]
    assert sents[0].upos == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert sents[0].xpos == ["PRP", "MD", "RB", "VB", "."]
    assert sents[0].meta == {"sent_id": "1", "text": "I can't go."}
    assert sents[1].form == ["Hi"]                       # no blank line at the end: kept
    d = ud_treebank(tmp_path, "train")
    assert d[1] == (["Hi"], ["INTJ"]) and ud_treebank(tmp_path, "train", tags="xpos")[1][1] == ["UH"]


def test_read_conllu_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.conllu"
    lines = CONLLU.split("\n")
    lines[4] = "3\tn't\tnot\tPART"                       # 4 columns instead of 10
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DatasetFileError, match=r"bad.conllu:5: expected 10 tab-separated"):
        read_conllu(path)
    lines = CONLLU.split("\n")
    lines[6] = lines[6].replace("4\tgo", "7\tgo")       # ID out of sequence
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DatasetFileError, match=r"bad.conllu:7: ID '7', expected 4"):
        read_conllu(path)


def test_text_corpus_split(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("abcdefghij\r\n", encoding="utf-8", newline="")
    assert text_corpus(p) == "abcdefghij\r\n"
    train, val = text_corpus(p, val_fraction=0.25)
    assert train + val == "abcdefghij\r\n" and len(train) == 9


def test_missing_files_message(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"rt-polarity.neg.*download=True"):
        rt_polarity(tmp_path)


# -- the real files (../shared/data) -----------------------------------------------------------
def test_rt_polarity_real_counts_and_fixed_split():
    root = shared_data_dir("rt-polarity")
    texts, labels = rt_polarity(root)
    assert len(texts) == 10_662 and labels.count(0) == 5_331 and labels.count(1) == 5_331
    assert all(texts)                                        # no blank snippets
    assert any("é" in t for t in texts)                      # read as Latin-1
    train, test = split_rt_polarity(root, seed=0, test_fraction=0.1)
    assert (len(train), len(test)) == (9_596, 1_066)
    train2, test2 = split_rt_polarity(root, seed=0)
    assert test2.texts == test.texts and train2.labels == train.labels
    assert split_rt_polarity(root, seed=1)[1].texts != test.texts
    assert sorted(train.texts + test.texts) == sorted(texts)


def test_ptb_real_token_counts_and_vocab():
    root = shared_data_dir("ptb")
    train = ptb(root, "train")
    assert len(train) == 887_521 + 42_068 == 929_589        # README: words + one <eos> a line
    assert train.count("<eos>") == 42_068
    assert len(ptb(root, "valid")) == 70_390 + 3_370
    assert len(ptb(root, "test")) == 78_669 + 3_761
    assert len(ptb(root, "train", eos=None)) == 887_521
    vocab = Vocab.build(Counter(train), specials=("<unk>", "<eos>"))
    assert len(vocab) == 10_000 and vocab["<unk>"] == 0 and vocab["<eos>"] == 1
    check_vocab_matches(vocab, 10_000)
    s = batchify(vocab.lookup_indices(train), 20)
    assert s.shape == (929_589 // 20, 20)
    x, y = next(lm_batches(s, 35))
    assert x.shape == y.shape == (35, 20)


def test_tiny_shakespeare_real_length_and_chars():
    root = shared_data_dir("tiny-shakespeare")
    text = tiny_shakespeare(root)
    assert len(text) == 1_115_394 and len(set(text)) == 65
    tok = CharTokenizer().fit(text)
    assert len(tok) == 65 and tok.decode(tok.encode(text[:500])) == text[:500]
    train, val = tiny_shakespeare(root, val_fraction=0.1)
    assert train + val == text and len(train) == int(1_115_394 * 0.9)
    X, Y = char_windows(tok.encode(val), 64)
    assert X.shape == Y.shape == ((len(val) - 1) // 64, 64)
    assert tok.decode(X[0]) == val[:64] and tok.decode(Y[0]) == val[1:65]


def test_ud_english_ewt_real_counts_and_tagset():
    root = shared_data_dir("ud-english-ewt")
    counts = {}
    tags = set()
    for split in ("train", "dev", "test"):
        d = ud_treebank(root, split)
        counts[split] = len(d)
        tags |= set(d.tagset())
        words, upos = d[0]
        assert len(words) == len(upos) > 0
    assert counts == {"train": 12_544, "dev": 2_001, "test": 2_077}       # README
    assert len(tags) == 17
    assert tags == {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
                    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"}


def test_available_lists_text_corpora():
    root = shared_data_dir()
    names = {d["name"]: d for d in datasets.available(root)}
    for name in ("rt-polarity", "ptb", "tiny-shakespeare", "ud-english-ewt"):
        assert names[name]["ready"], names[name]
    assert not names["sst2"]["ready"] or "sst2" in names["sst2"]["location"].lower()


def test_download_checks_checksums_offline(tmp_path, monkeypatch):
    """download=True: the official files' bytes pass the sha256 check and land in
    root/rt-polarity/; wrong bytes are refused (served from the shared copy, no network)."""
    import io
    from neurona.datasets import _files
    src = shared_data_dir("rt-polarity")
    served = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout=None):
        served.append(url)
        return Response((src / url.rsplit("/", 1)[1]).read_bytes())
    monkeypatch.setattr(_files, "urlopen", fake_urlopen)
    texts, labels = rt_polarity(tmp_path, download=True)
    assert len(texts) == 10_662 and len(served) == 2
    assert sorted(p.name for p in (tmp_path / "rt-polarity").iterdir()) == \
        ["rt-polarity.neg", "rt-polarity.pos"]

    monkeypatch.setattr(_files, "urlopen", lambda url, timeout=None: Response(b"not it\n"))
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        ptb(tmp_path / "other", "valid", download=True)
    assert not any((tmp_path / "other" / "ptb").iterdir())      # nothing half-written


def test_tokenizers_round_trip_through_a_dict():
    """to_dict / tokenizer_from_dict (how a checkpoint carries its tokenizer) give a
    tokenizer that encodes exactly like the original; a broken description is refused."""
    import json
    from neurona.text import tokenizer_from_dict
    chars = CharTokenizer(unknown="unk").fit("to be or not to be")
    words = WordTokenizer(lower=True).fit(["To be, or not", "to be!"])
    bpe = SubwordTokenizer.train(["to be or not to be"] * 10, vocab_size=280)
    for tok, text in [(chars, "not toby?"), (words, "Not to BE, zebra"), (bpe, "to bee")]:
        again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
        assert type(again) is type(tok)
        assert again.encode(text) == tok.encode(text)
    with pytest.raises(ValueError, match="not a tokenizer description"):
        tokenizer_from_dict({"type": "morse"})
    with pytest.raises(ValueError, match="broken word tokenizer"):
        tokenizer_from_dict({"type": "word"})


def test_a_tokenizer_json_with_its_own_padding_and_truncation_is_not_padded_silently():
    """all-MiniLM-L6-v2's tokenizer.json pads and truncates every text to 128 tokens; the
    wrapper must return the real tokens (and a mask of the real length)."""
    bpe = SubwordTokenizer.train(["to be or not to be that is the question"] * 10,
                                 vocab_size=300)
    hf = bpe.tokenizer
    hf.enable_padding(pad_id=bpe.pad_id, pad_token=bpe.pad_token, length=16)
    hf.enable_truncation(3)
    tok = SubwordTokenizer(hf)
    ids = tok.encode("to be or not to be")
    assert len(ids) > 3 and bpe.pad_id not in ids
    batch = tok.encode_batch(["to be", "to be or not to be that"], padding=True)
    assert batch["lengths"].tolist() == [len(tok.encode("to be")),
                                         len(tok.encode("to be or not to be that"))]
    assert batch["input_ids"].shape[1] == max(batch["lengths"].tolist())
