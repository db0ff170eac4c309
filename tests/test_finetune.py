"""LoRA adapters (neurona.nn.lora) against a torch re-implementation, and short real
fine-tuning runs of MiniLM on slices of rt-polarity (neurona.recipes.finetune)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import neurona as nr
import neurona.nn as nn
from neurona.nn.lora import (LoRALinear, apply_lora, lora_state_dict, merge_lora,
                             trainable_parameters)
from conftest import shared_data_dir
from helpers import assert_close, gradcheck64


@settings(deadline=None, max_examples=15)
@given(n=st.integers(1, 4), d_in=st.integers(2, 9), d_out=st.integers(2, 9),
       r=st.integers(1, 2), alpha=st.sampled_from([1.0, 8.0, 16.0]), seed=st.integers(0, 99))
def test_lora_matches_torch(n, d_in, d_out, r, alpha, seed):
    nr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    base = nn.Linear(d_in, d_out)
    x = rng.standard_normal((n, 3, d_in)).astype(np.float32)
    y0 = base(nr.tensor(x)).detach().numpy()
    lora = LoRALinear(base, r=r, alpha=alpha)
    assert lora.scaling == alpha / r
    # at init B = 0: exactly the pretrained layer
    assert np.array_equal(lora(nr.tensor(x)).detach().numpy(), y0)
    nn.init.normal_(lora.lora_B)
    W, b, A, B = (t.detach().numpy() for t in (base.weight, base.bias, lora.lora_A,
                                                 lora.lora_B))
    xt = torch.tensor(x, requires_grad=True)
    At, Bt = torch.tensor(A, requires_grad=True), torch.tensor(B, requires_grad=True)
    yt = xt @ torch.tensor(W).T + torch.tensor(b) + (alpha / r) * (xt @ At.T) @ Bt.T
    g = rng.standard_normal(yt.shape).astype(np.float32)
    (yt * torch.tensor(g)).sum().backward()
    xn = nr.tensor(x, requires_grad=True)
    y = lora(xn)
    assert_close(y.detach().numpy(), yt.detach().numpy(), atol=1e-5, rtol=1e-5)
    (y * nr.tensor(g)).sum().backward()
    assert_close(xn.grad.numpy(), xt.grad.numpy(), atol=1e-5, rtol=1e-5)
    assert_close(lora.lora_A.grad.numpy(), At.grad.numpy(), atol=1e-4, rtol=1e-4)
    assert_close(lora.lora_B.grad.numpy(), Bt.grad.numpy(), atol=1e-4, rtol=1e-4)
    assert base.weight.grad is None and base.bias.grad is None     # frozen
    # merged: W + (alpha/r) B A computes the same
    before = lora(nr.tensor(x)).detach().numpy()
    merged = lora.merge()
    assert_close(merged(nr.tensor(x)).detach().numpy(), before, atol=1e-5, rtol=1e-5)


def test_lora_gradcheck64():
    nr.manual_seed(0)
    lora = LoRALinear(nn.Linear(4, 3).double(), r=2, alpha=4)
    nn.init.normal_(lora.lora_B)
    x = np.random.default_rng(0).standard_normal((2, 4))
    # the adapters' parameters are passed through, so the checker perturbs them too
    gradcheck64(lambda x, A, B: lora(x), x, lora.lora_A, lora.lora_B)


def test_lora_errors():
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 3), r=0)
    with pytest.raises(ValueError, match="larger than the layer"):
        LoRALinear(nn.Linear(4, 3), r=4)
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(nn.ReLU())
    with pytest.raises(ValueError, match="no nn.Linear named"):
        apply_lora(nn.Sequential(nn.Linear(3, 3)), target_names=("query",))


def _tiny_bert():
    from neurona.models import BertModel
    nr.manual_seed(0)
    return BertModel(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=32,
                     max_position_embeddings=20, add_pooling_layer=False)


def test_apply_lora_freezes_all_but_adapters_and_counts():
    from neurona.models.classifier_heads import SentenceClassifier, configure
    bert = _tiny_bert()
    ids = nr.tensor(np.random.default_rng(0).integers(0, 50, (2, 7)))
    mask = nr.ones(2, 7, dtype=nr.int64)
    bert.eval()
    before = bert(ids, mask).last_hidden_state.detach().numpy()
    wrapped = apply_lora(bert, target_names=("query", "value"), r=4, alpha=8)
    assert wrapped == [f"encoder.layer.{i}.attention.self.{p}" for i in range(2)
                       for p in ("query", "value")]
    train = [n for n, p in bert.named_parameters() if p.requires_grad]
    assert train == [f"{w}.{ab}" for w in wrapped for ab in ("lora_A", "lora_B")]
    assert trainable_parameters(bert) == 4 * 4 * (16 + 16)           # layers*2 x r(in+out)
    assert set(lora_state_dict(bert)) == set(train)
    assert_close(bert(ids, mask).last_hidden_state.detach().numpy(), before, atol=1e-6)
    # the classifier's modes
    counts = {}
    for mode in ("head", "full", "lora"):
        m = SentenceClassifier(_tiny_bert(), num_labels=2)
        counts[mode] = configure(m, mode, r=4, alpha=8)
    total = sum(p.numel() for p in _tiny_bert().parameters()) + 16 * 2 + 2
    assert counts == {"head": 34, "full": total, "lora": 34 + 4 * 4 * 32}
    with pytest.raises(ValueError, match="mode must be one of"):
        configure(SentenceClassifier(_tiny_bert()), "adapters")
    merge_lora(bert)
    assert not any(isinstance(m, LoRALinear) for m in bert.modules())
    assert_close(bert(ids, mask).last_hidden_state.detach().numpy(), before, atol=1e-6)


@pytest.fixture(scope="module")
def rt_slices():
    from neurona.models.pretrained import minilm_path
    from neurona.recipes.sentiment import load_data
    minilm_path()             # a missing MiniLM fails here (make test installs it)
    d = load_data(shared_data_dir())

    def short(part, n):       # short snippets: quick to encode on a CPU
        texts, y = d[part]
        idx = [i for i, t in enumerate(texts) if len(t.split()) <= 16][:n]
        return [texts[i] for i in idx], np.asarray(y)[idx]
    return short


def test_head_mode_on_rt_polarity(rt_slices, tmp_path):
    from neurona.recipes import finetune
    texts = {"train": rt_slices("train", 320), "val": rt_slices("val", 60),
             "test": rt_slices("test", 160)}
    r = finetune.train(arch="head", texts=texts, out=tmp_path, quiet=True, epochs=15)
    m = r["metrics"]
    assert m["trainable_parameters"] == 384 * 2 + 2
    # MiniLM's frozen sentence embeddings separate the two classes from a few hundred
    # snippets (0.5 is chance; 160 test snippets: a standard error of 0.04)
    assert m["test_accuracy"] > 0.65, m
    p = finetune.predict(tmp_path, ["a gorgeous , witty , moving film",
                                    "a dull , lifeless and boring mess"])
    assert p["names"] == ["positive", "negative"]
    assert r["plots"] == [str(tmp_path / "training_curves.png")]
    _assert_png(r["plots"][0])
    # a checkpoint that lacks a trained tensor, or holds a foreign one, is refused
    from neurona.serialization import load, save
    ck = load(str(tmp_path / finetune.FILE))
    for broken in ({k: v for k, v in ck["state"].items() if k != "classifier.weight"},
                   {**ck["state"], "classifier.extra": ck["state"]["classifier.bias"]}):
        save({**ck, "state": broken}, str(tmp_path / "broken.safetensors"))
        with pytest.raises(ValueError, match="does not fit a 'head' SentenceClassifier"):
            finetune.load_finetuned(tmp_path / "broken.safetensors")


def test_lora_steps_lower_the_loss(rt_slices, tmp_path):
    from neurona.recipes import finetune
    tr = rt_slices("train", 16)
    texts = {"train": tr, "val": rt_slices("val", 8), "test": rt_slices("test", 8)}
    # the same 16 snippets, 6 full-batch steps: the adapters and head fit them
    r = finetune.train(arch="lora", texts=texts, quiet=True, epochs=6, batch_size=16,
                       lr=3e-3, warmup=0.0, dropout=0.0, eval_every=3, out=tmp_path)
    loss = r["history"]["step_loss"]
    assert len(loss) == 6 and loss[-1] < loss[0] - 0.05, loss
    assert r["history"]["eval_step"] == [3, 6]
    # r = 8 adapters (A: 8x384, B: 384x8) on query, key and value of 6 layers, + the head
    assert r["metrics"]["trainable_parameters"] == 6 * 3 * 8 * (384 + 384) + 770
    assert r["plots"] == [str(tmp_path / "training_curves.png")]
    _assert_png(r["plots"][0])
    # plots=False (or no out): no picture
    r = finetune.train(arch="lora", texts=texts, quiet=True, max_steps=1, batch_size=16,
                       out=tmp_path / "no-plots", plots=False)
    assert r["plots"] == [] and not (tmp_path / "no-plots" / "training_curves.png").exists()


def test_average_states_is_the_elementwise_mean():
    from neurona.recipes.finetune import average_states
    rng = np.random.default_rng(0)
    states = [{"w": rng.standard_normal((3, 4)).astype(np.float32),
               "b": rng.standard_normal(4).astype(np.float32)} for _ in range(3)]
    mean = average_states(states)
    for k in ("w", "b"):
        assert mean[k].dtype == np.float32
        assert_close(mean[k], (states[0][k] + states[1][k] + states[2][k]) / 3, atol=1e-6)


def test_checkpoint_averaging_is_validated_and_kept_when_not_worse(rt_slices, monkeypatch):
    from neurona.recipes import finetune
    tr = rt_slices("train", 16)
    # validation on the training snippets: the fitted states and their mean all reach
    # 1.0 on them, so the mean (kept when not worse) is kept
    texts = {"train": tr, "val": tr, "test": rt_slices("test", 8)}
    kw = dict(arch="lora", texts=texts, quiet=True, epochs=8, batch_size=16, lr=1e-2,
              warmup=0.0, dropout=0.0, eval_every=1)
    r = finetune.train(average=2, **kw)
    h, m = r["history"], r["metrics"]
    assert h["eval_step"] == list(range(1, 9))
    assert h["val_accuracy"][-2:] == [1.0, 1.0] and h["average_val_accuracy"] == 1.0
    assert m["best_step"] == "mean of 2" and m["val_accuracy"] == 1.0
    # the single best state is scored on the test set too
    assert m["single_best_step"] == h["val_accuracy"].index(1.0) + 1
    assert m["single_best_val_accuracy"] == 1.0 and 0 <= m["single_best_test_accuracy"] <= 1
    # the kept weights are the mean of the two states handed to average_states
    seen = []

    def recording(states):
        seen.append(states)
        return average(states)
    average = finetune.average_states
    monkeypatch.setattr(finetune, "average_states", recording)
    r = finetune.train(average=2, **kw)
    (states,) = seen
    assert len(states) == 2 and not np.array_equal(states[0]["classifier.weight"],
                                                   states[1]["classifier.weight"])
    kept = finetune._trainable_state(r["model"])
    for k in states[0]:
        assert_close(kept[k], (states[0][k] + states[1][k]) / 2, atol=1e-6)
    without = finetune.train(**kw)
    assert "average_val_accuracy" not in without["history"]
    assert without["metrics"]["best_step"] == m["single_best_step"]
    assert without["metrics"]["test_accuracy"] == m["single_best_test_accuracy"]
    with pytest.raises(ValueError, match="unknown options"):
        finetune.train(averages=2, **kw)


@pytest.mark.parametrize("device", [d for d in __import__("helpers").DEVICES if d != "cpu"]
                         or [pytest.param("cuda", marks=pytest.mark.skip(
                             reason="no CUDA GPU: CuPy is not installed or sees no device"))])
def test_finetune_on_cuda_matches_cpu(rt_slices, device):
    from neurona.recipes import finetune
    texts = {"train": rt_slices("train", 16), "val": rt_slices("val", 8),
             "test": rt_slices("test", 8)}
    kw = dict(arch="full", texts=texts, quiet=True, max_steps=2, batch_size=8, eval_every=1)
    gpu = finetune.train(device=device, **kw)
    model = gpu["model"]
    assert all(p.device.type == "cuda" for p in model.parameters())
    # the encoder's dropout draws its masks from the GPU's generator, so the training
    # losses are not the CPU's; they are a 2-class start's (ln 2 = 0.69, give or take)
    losses = gpu["history"]["step_loss"]
    assert len(losses) == 2 and all(0.3 < v < 1.2 for v in losses), losses
    # the trained model gives the same logits on the GPU as its weights do on the CPU
    from neurona.models.classifier_heads import SentenceClassifier
    from neurona.models.pretrained import from_pretrained, minilm_path
    encoder, tok = from_pretrained(minilm_path())
    on_cpu = SentenceClassifier(encoder)
    on_cpu.load_state_dict(model.state_dict())
    h = {"max_length": 128, "eval_batch_size": 8}
    assert_close(finetune._logits(model, tok, texts["val"][0], h),
                 finetune._logits(on_cpu, tok, texts["val"][0], h), atol=1e-4)


def _assert_png(path):
    from pathlib import Path
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, len(data)


@pytest.mark.parametrize("history, xlabel", [
    ({"epoch": [1, 2, 3], "train_loss": [0.7, 0.5, 0.4], "val_loss": [0.6, 0.5, 0.5],
      "val_accuracy": [0.6, 0.7, 0.72]}, "epoch"),
    ({"step": [1, 2, 3, 4], "step_loss": [0.7, 0.6, 0.5, 0.5], "eval_step": [2, 4],
      "val_loss": [0.6, 0.5], "val_accuracy": [0.65, 0.7]}, "step"),
])
def test_plot_curves_draws_both_history_layouts(history, xlabel, tmp_path):
    """head runs record one evaluation per epoch, full/lora runs a loss per step and an
    evaluation every eval_every steps: both give a loss-and-accuracy PNG."""
    import matplotlib.pyplot as plt
    from neurona.recipes import finetune
    seen = {}
    real_savefig = plt.Figure.savefig

    def spy(fig, *args, **kwargs):
        ax = fig.axes[0]
        seen.update(xlabel=ax.get_xlabel(), n_axes=len(fig.axes),
                    lines=[l.get_label() for a in fig.axes for l in a.get_lines()])
        return real_savefig(fig, *args, **kwargs)
    plt.Figure.savefig = spy
    try:
        path = finetune.plot_curves(history, tmp_path / "curves.png", "a title")
    finally:
        plt.Figure.savefig = real_savefig
    _assert_png(path)
    assert seen["xlabel"] == xlabel and seen["n_axes"] == 2          # accuracy on the right
    assert seen["lines"][1:] == ["validation", "validation accuracy"]


def test_param_groups_layer_decay_and_head_lr():
    """Layer-wise learning-rate decay: layer l of L at lr xi^(L-l), the embeddings at
    lr xi^(L+1), the head at head_lr; the defaults give one group at lr."""
    from neurona.models.classifier_heads import SentenceClassifier
    from neurona.recipes.finetune import param_groups
    model = SentenceClassifier(_tiny_bert())
    L = len(model.encoder.encoder.layer)
    rate_of = lambda groups: {id(p): g["lr"] for g in groups for p in g["params"]}
    rates = rate_of(param_groups(model, {"lr": 1e-3, "layer_decay": 0.5, "head_lr": 0.1}))
    named = dict(model.named_parameters())
    assert len(rates) == len(named)
    assert rates[id(named["classifier.weight"])] == 0.1
    assert rates[id(named["encoder.embeddings.word_embeddings.weight"])] == 1e-3 * 0.5 ** (L + 1)
    for l in range(L):
        w = named[f"encoder.encoder.layer.{l}.attention.self.query.weight"]
        assert rates[id(w)] == 1e-3 * 0.5 ** (L - l)
    single = param_groups(model, {"lr": 2e-5})
    assert len(single) == 1 and single[0]["lr"] == 2e-5
    assert len(single[0]["params"]) == len(named)


def test_sweep_example_runs_a_quick_grid_and_picks_by_validation(tmp_path):
    """examples/16 with --quick: two runs in one worker process, results and summary."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    from conftest import REPO
    out = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, str(Path(REPO) / "examples" / "16_finetune_sweep.py"), "--quick",
         "--workers", "1", "--seed", "0,1", "--epochs", "1", "--eval-every", "1",
         "--average", "2", "--minutes", "5", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in rows] == [0, 1] and all("error" not in r for r in rows)
    assert all(r["steps"] == 2 and len(r["val_curve"]) == 2 for r in rows)
    summary = (out / "summary.md").read_text()
    best = max(rows, key=lambda r: r["val_accuracy"])
    assert f"seed {best['seed']}, average 2: validation {best['val_accuracy']:.4f}" in summary
