"""Sentiment analysis: masked pooling, the two text classifiers, nearest neighbours, the
PCA plot, the rt-polarity recipe (bad input included) and a short real-data run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurona as nt
from neurona import models
from neurona.models.text_classifiers import (EmbeddingBagClassifier, LSTMClassifier,
                                             lengths_to_mask, masked_max, masked_mean,
                                             masked_sum)
from neurona.recipes import sentiment
from neurona.text import Vocab, WordTokenizer
from neurona.text.similarity import (cosine_similarities, nearest_neighbours,
                                     ppmi_svd_embeddings)
from neurona import viz_text

from conftest import shared_data_dir


# -- masked pooling ------------------------------------------------------------------------
def _pool_inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 6, 5))
    lengths = np.array([6, 3, 1, 0])              # the last row: an empty sentence
    mask = np.arange(6)[None, :] < lengths[:, None]
    return x, mask


def _np_mean(x, mask):
    m = mask[..., None].astype(x.dtype)
    return (x * m).sum(1) / np.maximum(m.sum(1), 1)


def _np_max(x, mask):
    out = np.where(mask[..., None], x, -np.inf).max(1)
    return np.where(mask.any(1)[:, None], out, 0.0)


@pytest.mark.parametrize("fn, ref", [(masked_sum, lambda x, m: (x * m[..., None]).sum(1)),
                                     (masked_mean, _np_mean), (masked_max, _np_max)])
def test_masked_pooling_matches_numpy(fn, ref):
    x, mask = _pool_inputs()
    out = fn(nt.tensor(x), nt.tensor(mask)).numpy()
    np.testing.assert_allclose(out, ref(x, mask), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fn(nt.tensor(x), nt.tensor(mask)).numpy()[3], 0)


def _torch_mean(x, m):
    mf = m.to(x.dtype).unsqueeze(-1)
    return (x * mf).sum(1) / mf.sum(1).clamp(min=1)


def _torch_max(x, m):
    out = x.masked_fill(~m.unsqueeze(-1), float("-inf")).max(1).values
    return torch.where(m.any(1, keepdim=True), out, torch.zeros_like(out))


@pytest.mark.parametrize("fn, tfn", [(masked_sum, lambda x, m: (x * m.unsqueeze(-1)).sum(1)),
                                     (masked_mean, _torch_mean), (masked_max, _torch_max)])
def test_masked_pooling_gradient_matches_torch(fn, tfn):
    x, mask = _pool_inputs(1)
    g = np.random.default_rng(2).standard_normal((4, 5))
    xn = nt.tensor(x, requires_grad=True)
    (fn(xn, nt.tensor(mask)) * nt.tensor(g)).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    (tfn(xt, torch.tensor(mask)) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert np.all(xn.grad.numpy()[~mask] == 0)        # padding gets no gradient


def test_masked_pooling_rejects_wrong_mask_shape():
    with pytest.raises(ValueError, match=r"mask has shape \(4, 5\).*\(N, T\) = \(4, 6\)"):
        masked_mean(nt.randn(4, 6, 3), np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="shape"):
        masked_sum(nt.randn(4, 6), np.ones((4, 6), bool))


def test_lengths_to_mask():
    m = lengths_to_mask([3, 1], 4).numpy()
    np.testing.assert_array_equal(m, [[1, 1, 1, 0], [1, 0, 0, 0]])


# -- the models ----------------------------------------------------------------------------
def _models(vocab_size=30):
    nt.manual_seed(0)
    return [EmbeddingBagClassifier(vocab_size, 8, (6,), dropout=0.2),
            EmbeddingBagClassifier(vocab_size, 8, (), pooling="max"),
            LSTMClassifier(vocab_size, 8, 5, dropout=0.2),
            LSTMClassifier(vocab_size, 8, 5, num_layers=2, pooling="mean")]


@pytest.mark.parametrize("i", range(4))
def test_prediction_does_not_depend_on_padding(i):
    model = _models()[i].eval()
    short = [[5, 6, 7], [8, 9]]
    ids = nt.tensor([[5, 6, 7], [8, 9, 0]])
    more = nt.tensor([[5, 6, 7, 0, 0, 0, 0], [8, 9, 0, 0, 0, 0, 0]])
    with nt.no_grad():
        a = model(ids, nt.tensor([3, 2])).numpy()
        b = model(more, nt.tensor([3, 2])).numpy()
        c = model(more).numpy()                              # mask from ids != <pad>
        alone = model(nt.tensor([short[1]]), nt.tensor([2])).numpy()
        # in a batch with a much longer sentence
        long = nt.tensor([[8, 9] + [0] * 10, list(range(1, 13))])
        d = model(long, nt.tensor([2, 12])).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[1], alone[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[1], d[0], rtol=1e-5, atol=1e-6)
    assert a.shape == (2, 2)


def test_lstm_classifier_matches_torch():
    """Packed BiLSTM + the final states of both directions, as the same torch model."""
    model = LSTMClassifier(20, 6, 4, dropout=0.0).eval()
    emb = torch.nn.Embedding(20, 6, padding_idx=0)
    lstm = torch.nn.LSTM(6, 4, batch_first=True, bidirectional=True)
    fc = torch.nn.Linear(8, 2)
    sd = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    emb.weight.data = sd["embedding.weight"]
    lstm.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("lstm.")})
    fc.load_state_dict({k[3:]: v for k, v in sd.items() if k.startswith("fc.")})
    ids = np.array([[3, 4, 0, 0], [5, 6, 7, 8], [9, 0, 0, 0]])
    lengths = np.array([2, 4, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(emb(torch.tensor(ids)), lengths,
                                                     batch_first=True, enforce_sorted=False)
    _, (h_n, _) = lstm(packed)
    want = fc(torch.cat([h_n[-2], h_n[-1]], 1)).detach().numpy()
    with nt.no_grad():
        got = model(nt.tensor(ids), nt.tensor(lengths)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_models_are_registered_and_checked():
    bag = models.get("embedding-bag", vocab_size=12, embedding_dim=4)
    lstm = models.get("lstm_classifier", vocab_size=12)
    assert isinstance(bag, EmbeddingBagClassifier) and isinstance(lstm, LSTMClassifier)
    assert bag.get_config()["vocab_size"] == 12
    with pytest.raises(ValueError, match="pooling must be one of"):
        EmbeddingBagClassifier(12, pooling="median")
    with pytest.raises(ValueError, match=r"lengths\[1\] = 0.*empty='pad'"):
        lstm(nt.tensor([[3, 4], [0, 0]]), nt.tensor([2, 0]))
    with pytest.raises(ValueError, match="shape \\(N, T\\)"):
        bag(nt.tensor([3, 4, 5]))
    with pytest.raises(IndexError, match="out of range"):          # an id past the table
        bag(nt.tensor([[3, 12]]))


def test_pretrained_embeddings_can_be_frozen():
    model = EmbeddingBagClassifier(5, 3, (), embedding_init_std=0.1)
    vectors = np.arange(15, dtype=np.float32).reshape(5, 3)
    model.load_pretrained_embeddings(vectors, freeze=True)
    w = model.embedding.weight
    assert not w.requires_grad and model.get_config()["freeze_embedding"]
    np.testing.assert_array_equal(w.numpy()[0], 0)                 # the <pad> row
    np.testing.assert_array_equal(w.numpy()[1:], vectors[1:])
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*\(5, 3\)"):
        model.load_pretrained_embeddings(vectors[:4])


# -- nearest neighbours and plots ----------------------------------------------------------
def test_nearest_neighbours_by_cosine():
    vocab = Vocab(["<pad>", "<unk>", "good", "great", "bad", "awful"],
                  specials=["<pad>", "<unk>"])
    w = np.array([[0, 0], [1, 1], [1, 0.1], [2, 0.3], [-1, 0.2], [-3, 0.1]], float)
    nn_good = nearest_neighbours(w, vocab, "good", k=2)
    assert [t for t, _ in nn_good] == ["great", "bad"]      # <unk> (1, 1) is skipped
    assert nn_good[0][0] == "great" and nn_good[0][1] == pytest.approx(
        (2 + 0.03) / (np.hypot(1, 0.1) * np.hypot(2, 0.3)))
    assert [t for t, _ in nearest_neighbours(w, vocab, "bad", k=1)] == ["awful"]
    assert "<unk>" not in [t for t, _ in nearest_neighbours(w, vocab, "good", k=4)]
    assert cosine_similarities(w, 2)[0] == 0                       # the zero <pad> row
    with pytest.raises(KeyError, match="'fantastic' is not in the vocabulary"):
        nearest_neighbours(w, vocab, "fantastic")
    with pytest.raises(ValueError, match="vocabulary size mismatch"):
        nearest_neighbours(w[:5], vocab, "good")


def _reference_ppmi(corpus, V, window, skip=(0, 1)):
    """PPMI over all contexts, by loops (the definition, for a tiny corpus)."""
    counts = np.zeros((V, V))
    for sent in corpus:
        for i, w in enumerate(sent):
            for j in range(max(0, i - window), min(len(sent), i + window + 1)):
                if j != i and w not in skip and sent[j] not in skip:
                    counts[w, sent[j]] += 1
    freq = np.bincount(np.concatenate(corpus), minlength=V).astype(float)
    freq[list(skip)] = 0
    p_c = freq ** 0.75 / (freq ** 0.75).sum()
    total = counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts / total) - np.log(counts.sum(1, keepdims=True) / total) \
            - np.log(p_c[None, :])
    return np.where(counts > 0, np.maximum(pmi, 0), 0)


def test_ppmi_svd_embeddings_match_the_definition():
    rng = np.random.default_rng(0)
    V = 14
    corpus = [rng.integers(0, V, size=rng.integers(3, 12)) for _ in range(200)]
    got = ppmi_svd_embeddings(corpus, V, dim=4, window=2, max_contexts=V, std=None,
                              skip_ids=(0, 1))
    ref = _reference_ppmi(corpus, V, 2)
    U, S, _ = np.linalg.svd(ref)
    want = U[:, :4] * np.sqrt(S[:4])
    # the same vectors up to the sign of each column: compare the Gram matrices
    np.testing.assert_allclose(got @ got.T, want @ want.T, atol=2e-3)
    assert np.all(got[[0, 1]] == 0)                        # <pad>, <unk>: zero vectors
    scaled = ppmi_svd_embeddings(corpus, V, dim=4, window=2, std=0.25, skip_ids=(0, 1))
    assert scaled[2:].std() == pytest.approx(0.25, rel=1e-3)


def test_ppmi_words_in_the_same_contexts_are_neighbours():
    vocab = Vocab(["<pad>", "<unk>", "good", "great", "bad", "awful", "film", "plot", "a",
                   "dull", "truly", "very"], specials=["<pad>", "<unk>"])
    s = vocab.stoi
    corpus = []
    for adj in ("good", "great"):
        corpus += [[s["a"], s["truly"], s[adj], s["film"]]] * 20
    for adj in ("bad", "awful"):
        corpus += [[s["a"], s["very"], s[adj], s["dull"], s["plot"]]] * 20
    vectors = ppmi_svd_embeddings(corpus, len(vocab), dim=3, window=2)
    assert nearest_neighbours(vectors, vocab, "good", k=1)[0][0] == "great"
    assert nearest_neighbours(vectors, vocab, "awful", k=1)[0][0] == "bad"
    with pytest.raises(ValueError, match="token ids must be in"):
        ppmi_svd_embeddings([[3, 40]], 12, dim=2)


def test_pca_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    line = np.outer(np.linspace(-1, 1, 9), [1.0, 2.0, 2.0]) + 5   # points on a line
    xy = viz_text.pca_2d(line)
    np.testing.assert_allclose(np.abs(xy[:, 0]), np.abs(np.linspace(-3, 3, 9)), atol=1e-9)
    np.testing.assert_allclose(xy[:, 1], 0, atol=1e-9)
    vocab = ["<pad>", "<unk>", "good", "bad", "film"]
    p = viz_text.plot_embeddings_2d(rng.standard_normal((5, 4)), vocab, ["good", "bad", "film",
                                                                        "absent"],
                                    tmp_path / "e.png", groups={"good": "positive"})
    q = viz_text.plot_training_curves({"loss": [3, 2, 1]}, tmp_path / "c.png",
                                      right={"acc": [0.5, 0.6, 0.7]})
    assert (tmp_path / "e.png").stat().st_size > 1000 and p.endswith("e.png")
    assert (tmp_path / "c.png").stat().st_size > 1000 and q.endswith("c.png")
    with pytest.raises(ValueError, match="fewer than 2"):
        viz_text.plot_embeddings_2d(np.zeros((5, 4)), vocab, ["good", "nope"], tmp_path / "x.png")


# -- the recipe's predict: unknown words, empty texts, vocabulary mismatch, checkpoints -----
def _tiny_trained(tmp_path):
    texts = ["a good film", "a great film", "a bad film", "an awful film"] * 4
    tok = WordTokenizer(lower=True).fit(texts)
    nt.manual_seed(0)
    model = EmbeddingBagClassifier(len(tok.vocab), 6, (4,)).eval()
    path = models.save_checkpoint(model, tmp_path / "m.safetensors", tokenizer=tok.to_dict(),
                                  labels=sentiment.LABEL_NAMES)
    return model, tok, path


def test_predict_unknown_and_empty_texts(tmp_path):
    model, tok, _ = _tiny_trained(tmp_path)
    out = sentiment.predict(model, ["A GOOD film", "a zzyzx film", "", "   "], tokenizer=tok)
    assert out["unknown_tokens"] == [0, 1, 0, 0]
    assert out["empty"] == [False, False, True, True]
    probs = out["probabilities"]
    assert probs.shape == (4, 2) and np.allclose(probs.sum(1), 1)
    # an unknown word is read as <unk>: same answer as writing <unk> ids by hand
    ids = nt.tensor([[tok.vocab["a"], tok.vocab.unk_index, tok.vocab["film"]]])
    with nt.no_grad():
        z = model(ids).numpy()[0]
    np.testing.assert_allclose(probs[1], np.exp(z) / np.exp(z).sum(), rtol=1e-5)
    # an empty text pools to the zero vector: the classifier's answer for "no evidence"
    with nt.no_grad():
        z0 = model.classifier(nt.zeros(1, 6)).numpy()[0]
    np.testing.assert_allclose(probs[2], np.exp(z0) / np.exp(z0).sum(), rtol=1e-5)
    assert out["names"][0] in ("negative", "positive")
    assert sentiment.predict(model, [], tokenizer=tok)["labels"] == []


def test_predict_refuses_a_mismatched_vocabulary(tmp_path):
    model, tok, _ = _tiny_trained(tmp_path)
    other = WordTokenizer(lower=True).fit(["some other text with more words than before"])
    with pytest.raises(ValueError, match="vocabulary size mismatch"):
        sentiment.predict(model, ["a good film"], tokenizer=other)
    with pytest.raises(ValueError, match="pass tokenizer="):
        sentiment.predict(model, ["a good film"])
    # a checkpoint whose stored tokenizer does not fit its model
    bad = models.save_checkpoint(model, tmp_path / "bad.safetensors",
                                 tokenizer=other.to_dict())
    with pytest.raises(ValueError, match="vocabulary size mismatch"):
        sentiment.predict(bad, ["a good film"])
    no_tok = models.save_checkpoint(model, tmp_path / "notok.safetensors")
    with pytest.raises(ValueError, match="no tokenizer"):
        sentiment.predict(no_tok, ["a good film"])


def test_checkpoint_round_trip(tmp_path):
    model, tok, path = _tiny_trained(tmp_path)
    texts = ["a good film", "an awful film", "unseen words only", ""]
    before = sentiment.predict(model, texts, tokenizer=tok)
    after = sentiment.predict(path, texts)
    np.testing.assert_allclose(after["probabilities"], before["probabilities"], rtol=1e-6)
    loaded, tok2 = sentiment.load_classifier(path)
    assert tok2.vocab == tok.vocab and loaded.get_config() == model.get_config()


def test_recipe_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="arch must be one of"):
        sentiment.train(arch="cnn", data_dir=shared_data_dir())
    with pytest.raises(TypeError, match="unknown option"):
        sentiment.train(arch="mean", data_dir=shared_data_dir(), hidden_size=3)
    with pytest.raises(ValueError, match="init_embedding must be"):
        sentiment.train(arch="mean", data_dir=shared_data_dir(), init_embedding="glove",
                        max_steps=1, quiet=True, plots=False)
    with pytest.raises(FileNotFoundError, match="rt-polarity.neg"):
        sentiment.train(arch="mean", data_dir=tmp_path)


# -- real data -----------------------------------------------------------------------------
def test_mean_model_learns_rt_polarity(tmp_path):
    """One epoch of the course's model on the real split: the loss falls and the test
    accuracy is well above chance (the full run reaches ~0.77)."""
    shared_data_dir("rt-polarity")
    result = sentiment.train(data_dir=shared_data_dir(), out=tmp_path, arch="mean",
                             epochs=1, quiet=True)
    m, h = result["metrics"], result["history"]
    steps = h["step_loss"]
    assert np.mean(steps[-20:]) < np.mean(steps[:20]) - 0.1
    assert m["test_accuracy"] > 0.68
    assert m["n_test"] == 1066 and m["n_train"] + m["n_val"] == 9596
    assert set(m["neighbours"]) >= {"good", "bad", "boring"}
    assert len(m["neighbours"]["good"]) == 5
    assert sorted(p.rsplit("/", 1)[-1] for p in result["plots"]) == [
        "embeddings_pca.png", "training_curves.png"]
    out = sentiment.predict(result["checkpoint"], ["a gorgeous , witty , touching film",
                                                   "a dull , boring , stupid mess"])
    assert out["labels"] == [1, 0]


def test_bilstm_runs_on_rt_polarity(tmp_path):
    """A few dozen steps of a small BiLSTM: the loss falls; its checkpoint predicts."""
    result = sentiment.train(data_dir=shared_data_dir(), out=tmp_path, arch="bilstm",
                             max_steps=40, quiet=True, plots=False, embedding_dim=32,
                             hidden_size=16, init_embedding="ppmi", ppmi_corpus=["train"],
                             ppmi_contexts=1000)
    steps = result["history"]["step_loss"]
    assert len(steps) == 40 and result["metrics"]["stopped_by"] == "max_steps=40"
    assert np.mean(steps[-10:]) < np.mean(steps[:10])
    out = sentiment.predict(result["checkpoint"], ["a fine film", ""])
    assert out["probabilities"].shape == (2, 2) and out["empty"] == [False, True]


def test_an_embedding_lookup_is_a_one_hot_row_times_the_table():
    """e_w = x_w^T E: the dense vector of word w is row w of E, the same numbers as the
    one-hot vector times the table (what the module docstring says)."""
    nt.manual_seed(0)
    emb = nt.nn.Embedding(12, 5)
    ids = nt.tensor([[3, 0, 11], [7, 7, 2]])
    one_hot = nt.nn.functional.one_hot(ids, 12).float()              # (2, 3, 12)
    np.testing.assert_allclose((one_hot @ emb.weight).detach().numpy(),
                               emb(ids).detach().numpy(), atol=1e-6)
