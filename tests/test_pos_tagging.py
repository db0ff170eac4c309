"""POS tagging (many-to-many): the BiLSTMTagger and the recipe neurona.recipes.pos_tagging.

Unit tests on a tiny model and a toy treebank written here, then one short run on the real
UD English-EWT files (fails, not skips, when ../shared/data/ud-english-ewt is missing).
"""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from neurona import models
from neurona.datasets._files import DatasetFileError
from neurona.models import BiLSTMTagger
from neurona.recipes import pos_tagging as P
from conftest import shared_data_dir
from helpers import conllu

TOY = [("the cat sleeps .", "DET NOUN VERB PUNCT"),
       ("a dog runs .", "DET NOUN VERB PUNCT"),
       ("the big dog sleeps .", "DET ADJ NOUN VERB PUNCT"),
       ("dogs run quickly .", "NOUN VERB ADV PUNCT"),
       ("a small cat runs quickly .", "DET ADJ NOUN VERB ADV PUNCT")]




@pytest.fixture
def toy_treebank(tmp_path):
    """A treebank with an unusual name and no dev file (found by glob; dev = 10% of train)."""
    (tmp_path / "xx_toy-ud-train.conllu").write_text(conllu(TOY * 8), encoding="utf-8")
    (tmp_path / "xx_toy-ud-test.conllu").write_text(conllu(TOY), encoding="utf-8")
    return tmp_path


def toy_vocabs():
    return P.TaggerVocabs.build([(w.split(), t.split()) for w, t in TOY])


def small_model(vocabs, **kw):
    nr.manual_seed(0)
    return BiLSTMTagger(len(vocabs.words), len(vocabs.tags), len(vocabs.chars),
                        embedding_dim=8, char_embedding_dim=6, char_filters=7, hidden_size=5,
                        **kw).eval()


def test_model_shapes_registry_and_config():
    v = toy_vocabs()
    model = small_model(v, num_layers=2)
    words, chars, lengths, _ = P.make_batch([v.encode("the cat".split()) + (None,),
                                             v.encode("a big dog runs".split()) + (None,)],
                                            with_tags=False)
    assert model(words, chars, lengths).shape == (2, 4, len(v.tags))
    assert "bilstm-tagger" in models.available()
    rebuilt = models.get("bilstm-tagger", **model.get_config())
    assert rebuilt.get_config() == model.get_config()
    with pytest.raises(ValueError, match="char_ids"):
        model(words, None, lengths)


def test_padding_never_leaks():
    """A sentence tagged alone == the same sentence in a batch padded by a longer sentence
    with longer words (more steps T and more characters C)."""
    v = toy_vocabs()
    model = small_model(v)
    short = v.encode("a cat runs".split()) + (None,)
    long = v.encode("the extraordinarily big dog sleeps quickly .".split()) + (None,)
    alone = model(*P.make_batch([short], with_tags=False)[:3]).detach().numpy()[0]
    words, chars, lengths, _ = P.make_batch([long, short], with_tags=False)
    assert words.shape[1] > 3 and chars.shape[2] > alone.shape[0]
    batched = model(words, chars, lengths).detach().numpy()[1, :3]
    np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-6)


def test_unknown_words_map_to_unk_but_keep_their_characters():
    v = toy_vocabs()
    ids, chars = v.encode(["the", "Zorblax"])
    assert ids[0] != v.words.unk_index and ids[1] == v.words.unk_index
    assert (chars[1] != v.chars.unk_index).sum() >= 4       # o, r, b, a, ... are known
    model = small_model(v)
    out = P.tag(model, "the Zorblax sleeps", vocabs=v)
    assert [w for w, _ in out] == ["the", "Zorblax", "sleeps"]
    assert all(t in v.tags for _, t in out)


def test_raw_text_is_split_like_ud_english():
    words = P._words_of("I don't think Dr. Smith's U.S. trip cost $1,000.50!", P.TOKEN_PATTERN)
    assert words == ["I", "do", "n't", "think", "Dr.", "Smith", "'s", "U.S.", "trip", "cost",
                     "$", "1,000.50", "!"]


def test_empty_sentence_is_an_error():
    v = toy_vocabs()
    model = small_model(v)
    for empty in ("", "   ", []):
        with pytest.raises(ValueError, match="empty"):
            P.tag(model, empty, vocabs=v)
    with pytest.raises(ValueError, match="word 1"):
        P.tag(model, ["the", ""], vocabs=v)


def test_malformed_conllu_names_file_and_line(tmp_path):
    good = conllu(TOY[:1])                      # lines 1-6: comment, 4 words, blank
    bad = good + "# sent_id = s1\n1\tdogs\tdog\tNOUN\n"   # line 8 has 4 columns
    (tmp_path / "xx_bad-ud-train.conllu").write_text(bad, encoding="utf-8")
    (tmp_path / "xx_bad-ud-test.conllu").write_text(good, encoding="utf-8")
    with pytest.raises(DatasetFileError, match=r"xx_bad-ud-train\.conllu:8: expected 10"):
        P.load_treebank(tmp_path)
    (tmp_path / "xx_bad-ud-train.conllu").write_text(good, encoding="utf-8")
    with pytest.raises(DatasetFileError, match="no XPOS tags"):    # the XPOS column is _
        P.load_treebank(tmp_path, tags="xpos")
    with pytest.raises(FileNotFoundError, match="no UD treebank"):
        P.find_treebank("nothing-here", tmp_path / "empty")


def test_vocabulary_mismatch_is_a_clear_error():
    v = toy_vocabs()
    model = small_model(v)
    wider = P.TaggerVocabs.build([(w.split() + ["extra"], t.split() + ["X"])
                                  for w, t in TOY])
    with pytest.raises(ValueError, match="vocabulary size mismatch"):
        P.tag(model, "the cat", vocabs=wider)
    fewer_tags = P.TaggerVocabs(v.words, v.chars, v.tags[:-1])
    with pytest.raises(ValueError, match="tag set mismatch"):
        P.tag(model, "the cat", vocabs=fewer_tags)
    with pytest.raises(ValueError, match="no vocabularies"):
        P.tag(small_model(v), "the cat")


def test_train_on_any_treebank_and_checkpoint_round_trip(toy_treebank, tmp_path):
    result = P.train("xx-toy", data_dir=toy_treebank, out=tmp_path / "run", epochs=15,
                     lr=0.02, batch_size=8, plots=True, quiet=True, hidden_size=16,
                     embedding_dim=16, char_filters=8)
    m = result["metrics"]
    assert m["train_sentences"] == 36 and m["test_words"] == 23      # 40 - 4 kept for dev
    assert m["test_accuracy"] >= 0.9
    assert len(result["plots"]) == 2 and all(p.endswith(".png") for p in result["plots"])
    ckpt = result["checkpoint"]
    sentence = "the small dog runs quickly ."
    in_memory = P.tag(result["model"], sentence)
    assert P.tag(ckpt, sentence) == in_memory
    assert [t for _, t in in_memory] == ["DET", "ADJ", "NOUN", "VERB", "ADV", "PUNCT"]
    loaded = P.load_tagger(ckpt)
    assert P.tag(loaded, sentence.split()) == in_memory            # what `neurona tag` does
    model, vocabs = loaded
    assert vocabs.tags == result["vocabs"].tags and vocabs.words == result["vocabs"].words


def test_short_real_run_on_ud_english_ewt():
    """1,500 EWT training sentences, two epochs: the loss falls, test UPOS accuracy well
    above the majority tag (NOUN, ~17%)."""
    folder = shared_data_dir("ud-english-ewt")
    result = P.train(data_dir=folder, max_train_sentences=1500, epochs=2, plots=False,
                     quiet=True)
    loss = result["history"]["loss"]
    assert loss[1] < loss[0]
    assert result["metrics"]["test_words"] == 25094          # the whole EWT test set
    assert result["metrics"]["test_accuracy"] > 0.75
