"""The language commands of the CLI, end to end on small data written here:
``neurona train char-lstm`` on a text file then ``neurona generate``; ``neurona train
pos-tagger`` on a toy treebank then ``neurona tag``. (The recipes themselves are tested
on the real corpora in their own test files.)"""
from __future__ import annotations

import json

import pytest

from helpers import conllu
from neurona.cli import main

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 12


@pytest.fixture(scope="module")
def char_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("charlm")
    corpus = folder / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    rc = main(["train", "char-lstm", "--dataset", str(corpus), "--max-steps", "80",
               "--batch-size", "4", "--quiet", "--no-plots", "--out", str(folder / "run")])
    assert rc == 0
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    return folder / "run" / "model.safetensors", metrics


def test_train_char_lstm_then_generate_streams_a_continuation(char_checkpoint, capsys):
    ckpt, metrics = char_checkpoint
    assert metrics["metrics"]["val_loss"] < 3.0   # ln(33) = 3.5 for a uniform guess
    capsys.readouterr()
    args = ["generate", str(ckpt), "--prompt", "All:", "--max-new-tokens", "25",
            "--top-k", "5", "--temperature", "0.8", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.startswith("All:") and len(first.rstrip("\n")) >= len("All:") + 1
    assert main(args) == 0
    assert capsys.readouterr().out == first                       # seeded: reproducible
    assert main(["generate", str(ckpt), "--prompt", "All:", "--greedy",
                 "--max-new-tokens", "10"]) == 0
    assert capsys.readouterr().out.startswith("All:")


def test_generate_refuses_an_unknown_character_before_printing(char_checkpoint, capsys):
    ckpt, _ = char_checkpoint
    capsys.readouterr()
    assert main(["generate", str(ckpt), "--prompt", "Speak€"]) == 1
    out, err = capsys.readouterr()
    assert out == ""                                              # nothing echoed first
    assert "'€'" in err and "position 5" in err


def test_generate_on_a_file_that_is_no_checkpoint(tmp_path, capsys):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert main(["generate", str(bad)]) == 1
    assert "x.safetensors" in capsys.readouterr().err


TOY = [("the cat sleeps .", "DET NOUN VERB PUNCT"), ("a dog runs .", "DET NOUN VERB PUNCT"),
       ("the big dog sleeps .", "DET ADJ NOUN VERB PUNCT"),
       ("dogs run quickly .", "NOUN VERB ADV PUNCT")]




def test_train_pos_tagger_on_any_treebank_then_tag(tmp_path, capsys):
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "xx_toy-ud-train.conllu").write_text(conllu(TOY * 10), encoding="utf-8")
    (bank / "xx_toy-ud-dev.conllu").write_text(conllu(TOY), encoding="utf-8")
    (bank / "xx_toy-ud-test.conllu").write_text(conllu(TOY), encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "pos-tagger", "--data-dir", str(bank), "--epochs", "15",
                 "--quiet", "--no-plots", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["tag", str(out / "model.safetensors"), "the dog sleeps .",
                 "a cat runs quickly ."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    pairs = [tuple(p.rsplit("/", 1)) for p in lines[0].split()]
    assert [w for w, _ in pairs] == ["the", "dog", "sleeps", "."]
    assert {t for _, t in pairs} <= {"DET", "NOUN", "VERB", "PUNCT", "ADJ", "ADV"}
    assert dict(pairs)["."] == "PUNCT" and dict(pairs)["the"] == "DET"
    assert main(["tag", str(out / "model.safetensors"), "   "]) == 1
    assert "empty" in capsys.readouterr().err


def test_train_rejects_a_wrong_arch_for_a_recipe(capsys):
    assert main(["train", "nlm", "--arch", "transformer"]) == 1
    assert "--arch must be one of bengio, lstm" in capsys.readouterr().err


def test_train_gpt_on_a_text_file_then_generate(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "gpt"
    assert main(["train", "gpt", "--dataset", str(corpus), "--max-steps", "20",
                 "--batch-size", "4", "--quiet",
                 "--no-plots", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["generate", str(out / "model.safetensors"), "--prompt", "All:",
                 "--max-new-tokens", "10", "--seed", "0"]) == 0
    assert capsys.readouterr().out.startswith("All:")
    assert main(["train", "bert"]) == 1
    assert "neurona finetune sentiment" in capsys.readouterr().err
