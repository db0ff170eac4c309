"""The benchmark workloads: each one the *same* computation in neurona and in PyTorch.

A workload is a function decorated with ``@workload("name")`` that sets up both sides
from the same NumPy data and returns two zero-argument callables,
``(neurona_step, torch_step)``; the harness times calls of them.  Add one like this::

    @workload("exp 1000 fwd")
    def exp_forward():
        x = rng().standard_normal(1000, dtype=np.float32)
        a, b = nr.tensor(x), torch.tensor(x)
        return (lambda: nr.exp(a)), (lambda: torch.exp(b))

Setup runs once per workload, outside the timing.  Keep the steps free of hidden
differences: same shapes and dtypes (float32), same op sequence, gradients cleared
the same way (``p.grad = None`` in both).

GPU: a workload registered with ``cuda=True`` takes ``setup(device="cuda")`` and puts both
sides' models and data on that device (``python -m bench --device cuda``).  One with
``default=False`` is left out of the default CPU run (too slow there) unless ``--only``
names it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

import neurona as nr

__all__ = ["Workload", "WORKLOADS", "workload", "rng", "gemm_gflops"]


@dataclass
class Workload:
    name: str
    setup: Callable[[], tuple]
    description: str = ""
    flops: Callable[[], float] | None = None     # FLOPs of one call, for a GFLOP/s figure
    cuda: bool = False        # setup(device="cuda") runs it on the GPU
    default: bool = True      # part of the default CPU run


WORKLOADS: list[Workload] = []


def workload(name: str, description: str = "", flops=None, cuda=False, default=True):
    """Register ``setup() -> (neurona_step, torch_step)`` under ``name``; ``flops()``, when
    given, counts the floating-point operations of one step (for a GFLOP/s figure).
    ``cuda=True``: ``setup(device=...)`` also runs on a GPU; ``default=False``: only with
    ``--only`` or ``--device cuda``."""
    def register(setup):
        doc = " ".join((setup.__doc__ or "").split())     # the docstring on one line
        WORKLOADS.append(Workload(name, setup, description or doc, flops, cuda, default))
        return setup
    return register


def rng(seed: int = 0) -> np.random.Generator:
    """The data of every workload comes from here (fixed seed), converted for each library."""
    return np.random.default_rng(seed)


def _pair(*arrays, requires_grad=False, device="cpu"):
    """The same float32 arrays as neurona tensors and as torch tensors (on ``device``)."""
    ours = [nr.tensor(a, requires_grad=requires_grad, device=device) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=requires_grad, device=device) for a in arrays]
    return ours, theirs


# -- per-op overhead: tiny tensors, so the time is what the library adds around NumPy --

def _small_op(name, op_nr, op_torch, shape_b=(10, 8)):
    """Register '<name> fwd' (no grad) and '<name> fwd+bwd' (op, sum, backward)."""

    def data():
        r = rng()
        return (r.standard_normal((10, 8), dtype=np.float32),
                r.standard_normal(shape_b, dtype=np.float32))

    @workload(f"{name} fwd", f"{name} on 10x8 float32 tensors that do not require grad")
    def forward():
        (a, b), (ta, tb) = _pair(*data())
        return (lambda: op_nr(a, b)), (lambda: op_torch(ta, tb))

    @workload(f"{name} fwd+bwd", f"{name} on 10x8 tensors, .sum(), .backward(), grads cleared")
    def forward_backward():
        (a, b), (ta, tb) = _pair(*data(), requires_grad=True)

        def step_nr():
            op_nr(a, b).sum().backward()
            a.grad = b.grad = None

        def step_torch():
            op_torch(ta, tb).sum().backward()
            ta.grad = tb.grad = None
        return step_nr, step_torch


_small_op("add", lambda a, b: a + b, lambda a, b: a + b)
_small_op("matmul", lambda a, b: a @ b, lambda a, b: a @ b, shape_b=(8, 10))
_small_op("tanh", lambda a, b: nr.tanh(a), lambda a, b: torch.tanh(a))


# -- a training step: where per-op overhead meets real matrix sizes ------------------

@workload("MLP train step", cuda=True)
def mlp_train_step(device="cpu"):
    """One SGD step of a 784-256-128-10 ReLU MLP, batch 128: forward, cross-entropy,
    backward, p -= lr * p.grad under no_grad, grads set to None."""
    import neurona.nn.functional as F
    import torch.nn.functional as TF

    r = rng()
    sizes = [784, 256, 128, 10]
    arrays = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)             # nn.Linear's default init range
        arrays.append(r.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        arrays.append(r.uniform(-bound, bound, fan_out).astype(np.float32))
    params_nr, params_torch = _pair(*arrays, requires_grad=True, device=device)
    x = r.standard_normal((128, 784), dtype=np.float32)
    y = r.integers(0, 10, 128)
    (x_nr, y_nr), (x_torch, y_torch) = _pair(x, y, device=device)
    lr = 0.01

    def make_step(lib, F, params, x, y):
        W1, b1, W2, b2, W3, b3 = params

        def step():
            h = lib.relu(x @ W1 + b1)
            h = lib.relu(h @ W2 + b2)
            loss = F.cross_entropy(h @ W3 + b3, y)
            loss.backward()
            with lib.no_grad():
                for p in params:
                    p -= lr * p.grad
            for p in params:
                p.grad = None
        return step

    return (make_step(nr, F, params_nr, x_nr, y_nr),
            make_step(torch, TF, params_torch, x_torch, y_torch))


# -- the high-level API: nn.Module layers, an optimizer, a DataLoader ---------------------

def _same_weights(nr_model, torch_model):
    """Copy neurona's initial weights into the torch model (same names and layouts)."""
    state = {k: torch.tensor(v.numpy()) for k, v in nr_model.state_dict().items()}
    torch_model.load_state_dict(state)


def _cycle(loader):
    """Batches of ``loader`` forever (a new epoch, reshuffled, when one ends)."""
    while True:
        yield from loader


@workload("MLP step nn+optim+loader")
def mlp_module_train_step():
    """One training step of nn.Sequential(Linear 784-256, ReLU, Linear 256-128, ReLU,
    Linear 128-10) with optim.SGD(lr=0.01, momentum=0.9), the batch of 128 drawn from a
    shuffling DataLoader over a TensorDataset of 2,560 examples: next batch, forward,
    CrossEntropyLoss, zero_grad, backward, step. PyTorch uses torch.utils.data.DataLoader."""
    from neurona import nn, optim
    from neurona.utils.data import DataLoader, TensorDataset
    import torch.utils.data as tud

    r = rng()
    X = r.standard_normal((2560, 784), dtype=np.float32)
    y = r.integers(0, 10, 2560)
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    tmodel = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                 torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                 torch.nn.Linear(128, 10))
    _same_weights(model, tmodel)
    batches = _cycle(DataLoader(TensorDataset(nr.tensor(X), nr.tensor(y)), batch_size=128,
                                shuffle=True))
    tbatches = _cycle(tud.DataLoader(tud.TensorDataset(torch.tensor(X), torch.tensor(y)),
                                     batch_size=128, shuffle=True))

    def make_step(model, optimizer, loss_fn, batches):
        def step():
            xb, yb = next(batches)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    return (make_step(model, optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                      nn.CrossEntropyLoss(), batches),
            make_step(tmodel, torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9),
                      torch.nn.CrossEntropyLoss(), tbatches))


@workload("Playground 2-8-8-1 step")
def playground_train_step():
    """One Adam step (lr 0.03) of the TensorFlow Playground's network size: 2-8-8-1 with
    tanh, batch of 10 points, BCEWithLogitsLoss: forward, loss, zero_grad, backward, step.
    Per-op overhead is nearly all of the time here."""
    from neurona import nn, optim

    r = rng()
    x = r.standard_normal((10, 2), dtype=np.float32)
    y = (r.random(10) > 0.5).astype(np.float32)[:, None]
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                          nn.Linear(8, 1))
    tmodel = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8),
                                 torch.nn.Tanh(), torch.nn.Linear(8, 1))
    _same_weights(model, tmodel)

    def make_step(model, optimizer, loss_fn, x, y):
        def step():
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    return (make_step(model, optim.Adam(model.parameters(), lr=0.03), nn.BCEWithLogitsLoss(),
                      nr.tensor(x), nr.tensor(y)),
            make_step(tmodel, torch.optim.Adam(tmodel.parameters(), lr=0.03),
                      torch.nn.BCEWithLogitsLoss(), torch.tensor(x), torch.tensor(y)))


# -- convolutional networks: where the time goes into im2col + GEMM ----------------------

def gemm_gflops(n: int = 1024, repeat: int = 10) -> float:
    """The machine's float32 matrix-product rate in NumPy, GFLOP/s: the best of ``repeat``
    timings of an n x n by n x n product (2 n^3 floating-point operations)."""
    import time
    a = rng().standard_normal((n, n), dtype=np.float32)
    b = rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b                                                  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def _train_step_flops(model, input_size, batch: int) -> float:
    """FLOPs of one training step: forward 2 x multiply-adds (conv and linear layers), and
    backward about twice the forward (dL/dx and dL/dW each cost one more product)."""
    from neurona.models.summary import count_macs
    return 3 * 2 * count_macs(model, input_size) * batch


def _torch_twin(model):
    """The same network in torch.nn, built from neurona's module tree (Conv2d, Linear,
    pooling, BatchNorm2d, ReLU, Tanh, Dropout, Sequential with the same child names)."""
    from collections import OrderedDict
    T = torch.nn

    def convert(m):
        kind = type(m).__name__
        if kind == "Sequential":
            return T.Sequential(OrderedDict((n, convert(c)) for n, c in m._modules.items()))
        if kind == "Conv2d":
            return T.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                            m.padding, bias=m.bias is not None)
        if kind == "Linear":
            return T.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        if kind in ("MaxPool2d", "AvgPool2d"):
            return getattr(T, kind)(m.kernel_size, m.stride)
        if kind == "BatchNorm2d":
            return T.BatchNorm2d(m.num_features)
        if kind == "Dropout":
            return T.Dropout(m.p)
        return getattr(T, kind)()                          # ReLU, Tanh

    class Twin(T.Module):
        def __init__(self):
            super().__init__()
            for name, child in model._modules.items():
                setattr(self, name, convert(child))

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))
    twin = Twin()
    _same_weights(model, twin)
    return twin


def _cnn_step(model, input_size, batch, device="cpu"):
    """(neurona_step, torch_step) for one SGD step (momentum 0.9) of ``model`` and its
    torch twin on a fixed random batch: forward, cross-entropy, zero_grad, backward, step."""
    from neurona import nn, optim
    r = rng()
    x = r.standard_normal((batch, *input_size), dtype=np.float32)
    y = r.integers(0, 10, batch)
    twin = _torch_twin(model)
    model.to(device)
    twin.to(device)
    (x_nr, y_nr), (x_torch, y_torch) = _pair(x, y, device=device)

    def make_step(model, optimizer, loss_fn, x, y):
        def step():
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    return (make_step(model, optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                      nn.CrossEntropyLoss(), x_nr, y_nr),
            make_step(twin, torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9),
                      torch.nn.CrossEntropyLoss(), x_torch, y_torch))


def _lenet5():
    from neurona.models import LeNet5
    nr.manual_seed(0)
    return LeNet5()


def _alexnet_cifar():
    from neurona.models import AlexNetCIFAR
    nr.manual_seed(0)
    return AlexNetCIFAR()


@workload("LeNet-5 train step", flops=lambda: _train_step_flops(_lenet5(), (1, 28, 28), 128),
          cuda=True)
def lenet5_train_step(device="cpu"):
    """One SGD step (momentum 0.9) of LeNet-5 (modern: ReLU, max pooling; 61,706
    parameters) on a batch of 128 1x28x28 images: forward, cross-entropy, zero_grad,
    backward, step. Same initial weights in both libraries."""
    return _cnn_step(_lenet5(), (1, 28, 28), 128, device)


@workload("AlexNetCIFAR train step",
          flops=lambda: _train_step_flops(_alexnet_cifar(), (3, 32, 32), 64))
def alexnet_cifar_train_step():
    """One SGD step (momentum 0.9) of AlexNetCIFAR (5 conv + batch norm + 3 linear with
    dropout, 1.5 million parameters) on a batch of 64 3x32x32 images: forward,
    cross-entropy, zero_grad, backward, step. Same initial weights in both libraries."""
    return _cnn_step(_alexnet_cifar(), (3, 32, 32), 64)


@workload("char-LSTM step", cuda=True)
def char_lstm_train_step(device="cpu"):
    """One SGD step of a character language model: Embedding 65->128, 2-layer LSTM with
    hidden size 256, Linear 256->65, on a batch of 32 sequences of 64 characters: forward,
    cross-entropy over all 2,048 positions, zero_grad, backward, step. Same initial weights
    in both libraries."""
    from neurona import nn, optim
    V, E, H, T, N = 65, 128, 256, 64, 32

    def build(nn):
        class CharLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(V, E)
                self.lstm = nn.LSTM(E, H, num_layers=2)
                self.fc = nn.Linear(H, V)

            def forward(self, x):
                out, _ = self.lstm(self.emb(x))
                return self.fc(out).reshape(-1, V)
        return CharLSTM()

    nr.manual_seed(0)
    model, twin = build(nn), build(torch.nn)
    _same_weights(model, twin)
    r = rng()
    x = r.integers(0, V, (T, N))
    y = r.integers(0, V, T * N)
    model.to(device)
    twin.to(device)
    (x_nr, y_nr), (x_torch, y_torch) = _pair(x, y, device=device)

    def make_step(model, optimizer, loss_fn, x, y):
        def step():
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    return (make_step(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                      x_nr, y_nr),
            make_step(twin, torch.optim.SGD(twin.parameters(), lr=0.1),
                      torch.nn.CrossEntropyLoss(), x_torch, y_torch))


# -- Transformers: GPT training and cached generation, MiniLM sentence embeddings ---------

GPT_CONFIG = dict(vocab_size=65, block_size=128, n_layer=4, n_head=4, n_embd=128,
                  dropout=0.0)


def _gpt_pair(**overrides):
    """neurona's GPT (seeded init) and its torch twin with the same weights."""
    from neurona.models import GPT
    from bench.transformer_twins import TorchGPT
    nr.manual_seed(0)
    model = GPT(**{**GPT_CONFIG, **overrides})
    return model, TorchGPT.twin_of(model)


@workload("GPT train step", cuda=True)
def gpt_train_step(device="cpu"):
    """One AdamW step (lr 3e-4) of a character GPT: 4 layers, d_model 128, 4 heads, MLP 512,
    context 128, vocab 65, dropout 0, tied lm_head, on a batch of 32 sequences of 128
    tokens: forward, cross-entropy over all 4,096 positions, zero_grad, backward, step.
    PyTorch: a nanoGPT twin with F.scaled_dot_product_attention; same initial weights."""
    return _gpt_step(device, 32)


GPT_D512 = dict(n_embd=512, n_head=8)


@workload("GPT d512 b64 train step", cuda=True, default=False)
def gpt_d512_train_step(device="cpu"):
    """The GEMM-bound one: the GPT train step with d_model 512, 8 heads, MLP 2048 (12.6
    million parameters), batch 64 x 128 tokens. About 0.6 TFLOP per step: for the GPU
    (python -m bench --device cuda); on a CPU only with --only."""
    return _gpt_step(device, 64, **GPT_D512)


def _gpt_step(device, N, **overrides):
    """(neurona_step, torch_step): one AdamW step of the GPT (GPT_CONFIG + overrides) on a
    batch of N sequences, both sides on ``device``."""
    from neurona import nn, optim
    model, twin = _gpt_pair(**overrides)
    V, T = GPT_CONFIG["vocab_size"], GPT_CONFIG["block_size"]
    r = rng()
    x = r.integers(0, V, (N, T))
    y = r.integers(0, V, N * T)
    model.to(device)
    twin.to(device)
    (x_nr, y_nr), (x_torch, y_torch) = _pair(x, y, device=device)

    def make_step(model, optimizer, loss_fn, x, y):
        def step():
            logits, _ = model(x)
            loss = loss_fn(logits.reshape(-1, V), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    return (make_step(model, optim.AdamW(model.parameters(), lr=3e-4),
                      nn.CrossEntropyLoss(), x_nr, y_nr),
            make_step(twin, torch.optim.AdamW(twin.parameters(), lr=3e-4),
                      torch.nn.CrossEntropyLoss(), x_torch, y_torch))


GEN_PROMPT_LEN, GEN_NEW_TOKENS = 16, 200


def gpt_generate_steps():
    """(neurona_step, torch_step) each returning the greedy tokens (for the tests too)."""
    from neurona.models.generation import generate
    from bench.transformer_twins import torch_generate_greedy
    # 16 + 200 tokens need a context of 256 (only wpe grows; the rest is the same model)
    model, twin = _gpt_pair(block_size=256)
    model.eval()
    twin.eval()
    prompt = [int(i) for i in rng(1).integers(0, GPT_CONFIG["vocab_size"], GEN_PROMPT_LEN)]
    return ((lambda: generate(model, prompt, GEN_NEW_TOKENS, greedy=True)),
            (lambda: torch_generate_greedy(twin, prompt, GEN_NEW_TOKENS)))


@workload("GPT generate 200 (KV cache)")
def gpt_generate():
    """Greedy generation of 200 tokens at batch 1 from a 16-token prompt with the GPT of
    'GPT train step' (untrained, same weights in both; context 256 so that 16 + 200
    tokens fit): read the prompt once, then one
    token at a time with the KV cache. neurona: models.generation.generate(greedy=True);
    PyTorch: the nanoGPT twin in a hand-written loop (argmax, torch.cat KV cache,
    F.scaled_dot_product_attention) under torch.no_grad."""
    return gpt_generate_steps()


MINILM_SENTENCES, MINILM_BATCH = 64, 32


def minilm_sentences(n: int = MINILM_SENTENCES, words: int = 29) -> list[str]:
    """``n`` deterministic English-like sentences of ``words`` common words (32
    WordPiece tokens each with [CLS] and [SEP] at the default 29 words)."""
    vocab = ("the a of to and in is was for on that with as by at from it his her they "
             "we this which be are not have had one all their there been has when who "
             "will more no if out so said what up its about into than them can only other "
             "new some could time these two may then do first any my now such like our "
             "over man me even most made after also did many before must through back "
             "years where much your way well down should because each just those people "
             "how too little state good very make world still own see men work long get "
             "here between both life being under never day same another know while last "
             "might us great old year off come since against go came right used take "
             "three city river music school water house night").split()
    r = rng(2)
    return [" ".join(r.choice(vocab, words)).capitalize() + "." for _ in range(n)]


def minilm_steps():
    """(neurona_step, torch_step) each returning the (64, 384) embeddings."""
    from transformers import AutoModel, AutoTokenizer
    from neurona.models.pretrained import SentenceEncoder, minilm_path
    from bench.transformer_twins import hf_sentence_embed
    path = minilm_path()
    encoder = SentenceEncoder.from_pretrained(path)
    hf_model = AutoModel.from_pretrained(str(path)).eval()
    hf_tok = AutoTokenizer.from_pretrained(str(path))
    sentences = minilm_sentences()
    return ((lambda: encoder.encode(sentences, batch_size=MINILM_BATCH)),
            (lambda: hf_sentence_embed(hf_model, hf_tok, sentences, MINILM_BATCH,
                                       encoder.max_length)))


@workload("MiniLM embed 64")
def minilm_embed():
    """Sentence embeddings of 64 deterministic sentences of about 32 tokens with
    all-MiniLM-L6-v2 (6-layer BERT, d 384), batches of 32: tokenize, forward, mean
    pooling, L2 normalise. neurona: models.pretrained.SentenceEncoder.encode; PyTorch:
    transformers AutoModel + AutoTokenizer (fast) + mean pooling + F.normalize under
    torch.no_grad. Same checkpoint."""
    return minilm_steps()


# -- Playground: the web page's training epoch and heatmap grid ------------------------

def playground_epoch_pair():
    """The playground's default network (features x, y -> 4 -> 2 -> 1, tanh, square loss,
    SGD lr 0.03, batch 10) on the circle's 250 training points, and a torch twin with the
    same initial weights.  Returns (playground, torch_model, torch_epoch)."""
    from neurona.playground import Playground
    pg = Playground({"seed": "bench", "dataset": "circle", "percTrainData": 50})
    layers = [torch.nn.Linear(a, b) for a, b in zip(pg.net.sizes[:-1], pg.net.sizes[1:])]
    with torch.no_grad():
        for t_layer, layer in zip(layers, pg.net.layers):
            t_layer.weight.copy_(torch.tensor(layer.weight._data))
            t_layer.bias.copy_(torch.tensor(layer.bias._data))
    twin = torch.nn.Sequential(layers[0], torch.nn.Tanh(), layers[1], torch.nn.Tanh(),
                               layers[2], torch.nn.Tanh())
    opt = torch.optim.SGD(twin.parameters(), lr=0.03)
    x, t = torch.tensor(pg.F_train), torch.tensor(pg.T_train)
    batch = pg.config["batchSize"]

    def torch_epoch():
        for s in range(0, len(x), batch):
            o = twin(x[s:s + batch])
            loss = 0.5 * ((o - t[s:s + batch]) ** 2).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return pg, twin, torch_epoch


@workload("playground epoch (250 pts, batch 10)")
def playground_epoch():
    """One training epoch of the playground's default network (2 -> 4 -> 2 -> 1, tanh,
    loss 1/2 (o - t)^2, plain SGD lr 0.03) over the circle's 250 training points in 25
    batches of 10. neurona: Playground.train_epoch (the engine's fused NumPy backprop);
    PyTorch: nn.Sequential + autograd + optim.SGD, same initial weights."""
    pg, _, torch_epoch = playground_epoch_pair()
    return pg.train_epoch, torch_epoch


def playground_grid_pair():
    """A trained-looking playground (all 7 features, 8-8-8 tanh) and a function computing
    its 100 x 100 grid in torch: every feature and hidden neuron as a (100, 100) map."""
    from neurona.playground import Playground
    from neurona.playground.features import FEATURES
    pg = Playground({"seed": "bench", "networkShape": "8,8,8", **{f: True for f in FEATURES}})
    Ws = [torch.tensor(w) for w in pg.net.weights]
    bs = [torch.tensor(b) for b in pg.net.biases]
    d = 100

    @torch.no_grad()
    def torch_grid():
        xs = torch.linspace(-6, 6, d)
        x2, x1 = torch.meshgrid(xs.flip(0), xs, indexing="ij")
        a, b = x1.reshape(-1), x2.reshape(-1)
        h = torch.stack([a, b, a * a, b * b, a * b, torch.sin(a), torch.sin(b)], dim=1)
        neurons = {name: h[:, j].reshape(d, d) for j, name in enumerate(FEATURES)}
        for i, (W, bias) in enumerate(zip(Ws, bs)):
            z = torch.nn.functional.linear(h, W, bias)
            if i == len(Ws) - 1:
                return torch.tanh(z).reshape(d, d), neurons
            h = torch.tanh(z)
            for k in range(h.shape[1]):
                neurons[f"h{i + 1}_{k}"] = h[:, k].reshape(d, d)
    return pg, torch_grid


@workload("playground grid 100x100")
def playground_grid():
    """The playground's heatmaps: one batched forward of 10,000 grid points on [-6, 6]^2
    through all 7 features and an 8-8-8 tanh network, returning the output and every
    feature's and hidden neuron's (100, 100) map. neurona: Playground.grid(100); PyTorch:
    the same features, F.linear + tanh under no_grad, the same slices."""
    pg, torch_grid = playground_grid_pair()
    return (lambda: pg.grid(100)), torch_grid
