"""Failed loads: clear errors, and the weights unchanged.

* ``Module.load_state_dict`` is all-or-nothing: for a missing tensor, a wrong shape, a
  wrong dtype, an unknown key (strict=True) or a value that is not an array -- drawn by
  hypothesis, at any key, with every other value new -- it raises and leaves every
  parameter and buffer bit-identical (torch raises in the same structural cases);
* a truncated safetensors file fails in ``neurona.load`` / ``load_checkpoint`` before any
  model is touched;
* Hugging Face folders written by transformers (tiny random BERT and GPT-2,
  ``save_pretrained(safe_serialization=True)``) with a missing, mis-shaped, mistyped or
  unknown tensor, a truncated file, an unknown ``model_type``, or only a pickle
  (``pytorch_model.bin``): each loader names the file and the problem; the pickle
  message names the file and gives a conversion snippet -- which is run, and works.
"""
import json
import os
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from safetensors.numpy import load_file, save_file

import neurona
from neurona import nn
from neurona.models import CheckpointError, load_checkpoint, save_checkpoint
from neurona.models import pretrained as P
from neurona.models.generation import load_causal_lm
from neurona.models.gpt import GPT, load_gpt2

import transformers            # noqa: E402 - a test dependency: missing fails, never skips


# ---------------------------------------------------------------------------- helpers
def _snapshot(model) -> dict:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _assert_unchanged(model, snap):
    now = model.state_dict()
    assert list(now) == list(snap)
    for k, before in snap.items():
        after = now[k].numpy()
        assert after.dtype == before.dtype and after.shape == before.shape, k
        assert after.tobytes() == before.tobytes(), f"{k} changed by a failed load"


def _net():
    neurona.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _torch_net():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                               torch.nn.Linear(4, 2))


KEYS = list(_net().state_dict())          # 0.weight ... 1.num_batches_tracked ... 2.bias


def _new_values(model) -> dict:
    """A full state dict whose every value differs from the model's."""
    return {k: v.numpy() + 1 for k, v in model.state_dict().items()}


def _corrupt(sd: dict, key: str, kind: str) -> dict:
    sd = dict(sd)
    if kind == "missing":
        del sd[key]
    elif kind == "shape":
        sd[key] = np.zeros(sd[key].shape[:-1] + (sd[key].shape[-1] + 1,) if sd[key].ndim
                           else (2,), sd[key].dtype)
    elif kind == "dtype":             # a float into an int buffer; complex anywhere else
        sd[key] = (np.float32(sd[key]) + 0.5 if sd[key].dtype.kind == "i"
                   else sd[key].astype(np.complex64))
    elif kind == "unknown":
        sd["2.extra"] = np.zeros(3, np.float32)
    elif kind == "not_array":
        sd[key] = object()
    return sd


# ---------------------------------------------------------------------------- load_state_dict
@settings(max_examples=40, deadline=None)
@given(key=st.sampled_from(KEYS),
       kind=st.sampled_from(["missing", "shape", "dtype", "unknown", "not_array"]),
       strict=st.booleans())
def test_a_failed_load_state_dict_changes_nothing(key, kind, strict):
    model = _net()
    model(neurona.randn(5, 3))                    # running stats no longer the defaults
    snap = _snapshot(model)
    bad = _corrupt(_new_values(model), key, kind)
    if not strict and kind in ("missing", "unknown"):
        result = model.load_state_dict(bad, strict=False)      # reported, not an error
        assert (result.missing_keys == [key]) if kind == "missing" else \
            (result.unexpected_keys == ["2.extra"])
        return
    with pytest.raises(RuntimeError, match=r"Nothing was loaded") as e:
        model.load_state_dict(bad, strict=strict)
    assert (key if kind != "unknown" else "2.extra") in str(e.value)
    _assert_unchanged(model, snap)
    # torch raises too for the structural mismatches (its load is not all-or-nothing)
    if kind in ("missing", "shape", "unknown") and strict:
        tsd = {k: torch.tensor(np.asarray(v)) for k, v in bad.items()}
        with pytest.raises(RuntimeError):
            _torch_net().load_state_dict(tsd, strict=True)


def test_the_same_values_uncorrupted_do_load():
    """The positive control: the state dicts above differ at every key, so a partial
    write would have shown."""
    model = _net()
    snap = _snapshot(model)
    model.load_state_dict(_new_values(model))
    for k, v in model.state_dict().items():
        assert not np.array_equal(v.numpy(), snap[k]), k
        np.testing.assert_array_equal(v.numpy(), snap[k] + 1)


def test_a_gpt_with_tied_weights_is_unchanged_by_a_failed_load():
    neurona.manual_seed(1)
    model = GPT(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)
    snap = _snapshot(model)
    other = GPT(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    with pytest.raises(RuntimeError, match=r"(?s)size mismatch.*Nothing was loaded"):
        model.load_state_dict(other.state_dict())
    _assert_unchanged(model, snap)
    sd = _new_values(model)
    del sd["transformer.h.1.mlp.c_proj.bias"]                    # the last layer's
    with pytest.raises(RuntimeError, match=r"(?s)Missing key.*h\.1\.mlp\.c_proj\.bias"):
        model.load_state_dict(sd)
    _assert_unchanged(model, snap)
    assert model.lm_head.weight is model.transformer.wte.weight     # still tied


def test_a_truncated_safetensors_file_fails_before_touching_the_model(tmp_path):
    neurona.manual_seed(2)
    model = GPT(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)
    snap = _snapshot(model)
    other = GPT(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)
    path = tmp_path / "sd.safetensors"
    neurona.save(other.state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"sd\.safetensors.*truncated or corrupt"):
        model.load_state_dict(neurona.load(path))
    _assert_unchanged(model, snap)
    ckpt = tmp_path / "ckpt.safetensors"
    save_checkpoint(other, ckpt)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match=r"ckpt\.safetensors is not a readable"):
        load_checkpoint(ckpt)


# ---------------------------------------------------------------------------- HF folders
def _bert_folder(path):
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32,
                                  max_position_embeddings=24)
    hf = transformers.BertModel(cfg).eval()
    hf.save_pretrained(path, safe_serialization=True)
    return hf


def _gpt2_folder(path):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=24,
                                  vocab_size=50)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    hf.save_pretrained(path, safe_serialization=True)
    return hf


def _bert_load(folder):
    return P.from_pretrained(folder, tokenizer=False)


def _gpt2_load(folder):
    return load_gpt2(folder)


LOADERS = {"bert": (_bert_folder, _bert_load, P.PretrainedError, "AutoModel"),
           "gpt2": (_gpt2_folder, _gpt2_load, (ValueError, FileNotFoundError),
                    "AutoModelForCausalLM")}


def _edit_weights(folder, edit):
    f = folder / "model.safetensors"
    sd = load_file(str(f))
    edit(sd)
    save_file(sd, str(f), metadata={"format": "pt"})


@pytest.fixture(scope="module", params=sorted(LOADERS))
def hf_folder(request, tmp_path_factory):
    arch = request.param
    make, load, err, auto = LOADERS[arch]
    folder = tmp_path_factory.mktemp(arch) / "ckpt"
    hf = make(folder)
    model = load(folder)[0]                                   # the good folder loads
    ids = np.array([[1, 5, 7, 2, 9]])
    with torch.no_grad():
        out = hf(torch.tensor(ids))
        ref = (out.last_hidden_state if arch == "bert" else out.logits).numpy()
    with neurona.no_grad():
        got = model(neurona.tensor(ids))
        got = (got.last_hidden_state if arch == "bert" else got[0]).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)
    return arch, folder, load, err, auto


def _copy(folder, tmp_path):
    import shutil
    dst = tmp_path / "copy"
    shutil.copytree(folder, dst)
    return dst


def _a_weight(sd):
    return next(k for k in sorted(sd) if k.endswith("weight") and sd[k].ndim == 2)


def _one_weight_edited(hf_folder, tmp_path, edit):
    """A copy of the good folder in which edit(sd, name) changed (or dropped) one 2-D
    weight of model.safetensors; returns (arch, copy, load, err, name)."""
    arch, folder, load, err, _ = hf_folder
    folder = _copy(folder, tmp_path)
    name = []

    def edit_first_weight(sd):
        name.append(_a_weight(sd))
        edit(sd, name[0])
    _edit_weights(folder, edit_first_weight)
    return arch, folder, load, err, name[0]


def test_a_missing_tensor(hf_folder, tmp_path):
    arch, folder, load, err, gone = _one_weight_edited(hf_folder, tmp_path,
                                                       lambda sd, k: sd.pop(k))
    short = gone.split(".", 1)[1] if arch == "bert" and gone.startswith("bert.") else gone
    with pytest.raises(err, match=r"(Missing key|lacks)") as e:
        load(folder)
    assert short.replace("transformer.", "") in str(e.value)
    assert "model.safetensors" in str(e.value)


def test_a_mis_shaped_tensor(hf_folder, tmp_path):
    def mis_shape(sd, k):
        sd[k] = np.zeros((3, 5), np.float32)
    _, folder, load, err, name = _one_weight_edited(hf_folder, tmp_path, mis_shape)
    with pytest.raises(err, match=r"\(3, 5\).*(needs|current model is) \(") as e:
        load(folder)
    assert name.split(".")[-2] in str(e.value)


def test_a_mistyped_tensor(hf_folder, tmp_path):
    def mistype(sd, k):
        sd[k] = sd[k].astype(np.int64)
    _, folder, load, err, name = _one_weight_edited(hf_folder, tmp_path, mistype)
    with pytest.raises(err, match=r"int64.*floating point|floating point.*int64") as e:
        load(folder)
    assert name.split(".")[-2] in str(e.value)


def test_an_unknown_tensor(hf_folder, tmp_path):
    arch, folder, load, err, _ = hf_folder
    folder = _copy(folder, tmp_path)
    _edit_weights(folder, lambda sd: sd.__setitem__("encoder.extra.weight",
                                                    np.zeros((2, 2), np.float32)))
    with pytest.raises(err, match=r"encoder\.extra\.weight"):
        load(folder)


def test_a_truncated_file(hf_folder, tmp_path):
    arch, folder, load, err, _ = hf_folder
    folder = _copy(folder, tmp_path)
    f = folder / "model.safetensors"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(err, match=r"model\.safetensors.*(not a readable|truncated)"):
        load(folder)


def _config_edited(hf_folder, tmp_path, edit):
    """A copy of the good folder whose config.json is edit(arch, config) as JSON; returns
    (arch, copy, load, err)."""
    arch, folder, load, err, _ = hf_folder
    folder = _copy(folder, tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(edit(arch, cfg)))
    return arch, folder, load, err


def test_an_unknown_architecture(hf_folder, tmp_path):
    _, folder, load, err = _config_edited(hf_folder, tmp_path,
                                          lambda arch, cfg: dict(cfg, model_type="llama"))
    with pytest.raises(err, match=r"model_type.*llama"):
        load(folder)
    with pytest.raises(CheckpointError, match=r"config\.json.*'llama'.*not a causal"):
        load_causal_lm(folder)


def _size_key(arch):
    return "hidden_size" if arch == "bert" else "n_embd"


def test_a_bad_config(hf_folder, tmp_path):
    arch, folder, load, err = _config_edited(
        hf_folder, tmp_path,
        lambda arch, cfg: {k: v for k, v in cfg.items() if k != _size_key(arch)})
    size = _size_key(arch)
    with pytest.raises(err, match=size if arch == "gpt2" else "hidden_size|do not fit"):
        load(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(err, match=r"config\.json.*not valid JSON"):
        load(folder)


def test_a_pickle_only_folder_names_the_file_and_the_conversion_which_works(hf_folder,
                                                                             tmp_path):
    arch, folder, load, err, auto = hf_folder
    make = LOADERS[arch][0]
    pk = tmp_path / "pickled"
    hf = make(tmp_path / "tmp")
    hf.save_pretrained(pk, safe_serialization=False)              # pytorch_model.bin
    assert (pk / "pytorch_model.bin").is_file() and not (pk / "model.safetensors").exists()
    with pytest.raises(err) as e:
        load(pk)
    msg = str(e.value)
    assert "pytorch_model.bin" in msg and str(pk) in msg
    assert "only safetensors" in msg and "safe_serialization=True" in msg
    if arch == "gpt2":
        with pytest.raises(CheckpointError, match="pytorch_model.bin"):
            load_causal_lm(pk)
    # the three indented lines of the message, run as given, make the folder loadable
    code = "\n".join(line[4:] for line in msg.splitlines() if line.startswith("    "))
    assert len(code.splitlines()) == 3 and f"from transformers import {auto}" in code
    exec(compile(code, "<conversion hint>", "exec"), {})
    assert (pk / "model.safetensors").is_file()
    model = load(pk)[0]
    ref = load(folder)[0]
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k].numpy(), v.numpy())


# ---------------------------------------------------------------------------- resume
def test_a_resume_that_does_not_fit_leaves_the_weights_unchanged(tmp_path):
    from neurona import optim
    from neurona.train import make_checkpoint, restore_checkpoint
    from neurona.train.loop import FitState

    def fit_state(seed, optimizer, scheduler=False):
        model = _net()
        neurona.manual_seed(seed)
        for p in model.parameters():
            p.data[...] = neurona.randn(*p.shape).numpy()
        opt = optimizer(model)
        sched = optim.lr_scheduler.StepLR(opt, step_size=1) if scheduler else None
        return FitState(model, opt, None, None, None, sched, 3, [])

    sgd = lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9)      # noqa: E731
    saved = fit_state(0, sgd)
    saved.epoch = 1
    path = tmp_path / "last.safetensors"
    neurona.save(make_checkpoint(saved), path)
    # another optimizer layout: the model's load succeeds, the optimizer's fails -> undone
    two_groups = lambda m: optim.SGD([{"params": list(m[0].parameters())},           # noqa
                                      {"params": list(m[1].parameters()) +
                                       list(m[2].parameters())}], lr=0.1)
    state = fit_state(1, two_groups)
    snap = _snapshot(state.model)
    with pytest.raises(ValueError, match="parameter groups"):
        restore_checkpoint(state, path)
    _assert_unchanged(state.model, snap)
    # a scheduler the checkpoint does not have: refused before anything is loaded
    state = fit_state(2, sgd, scheduler=True)
    snap = _snapshot(state.model)
    with pytest.raises(ValueError, match="saved without one"):
        restore_checkpoint(state, path)
    _assert_unchanged(state.model, snap)
    # the control: the same setup resumes, and the weights are the saved ones
    state = fit_state(3, sgd)
    restore_checkpoint(state, path)
    for k, v in saved.model.state_dict().items():
        np.testing.assert_array_equal(state.model.state_dict()[k].numpy(), v.numpy())
    assert state.epoch == 1
