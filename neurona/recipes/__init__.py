"""Training recipes: the course's language experiments, end to end on real data.

Each module trains one kind of model on one kind of dataset and writes what it made
(a checkpoint, ``metrics.json``, plots) to an output folder; ``neurona train NAME`` and
the scripts in ``examples/`` call them, and the tests run short versions.

| recipe | module | what it trains |
| --- | --- | --- |
| ``sentiment`` | :mod:`.sentiment` | mean-pooled embeddings or a BiLSTM on rt-polarity |
| ``nlm`` | :mod:`.language_model` | Bengio's neural LM or an LSTM word LM on PTB |
| ``char-lstm`` | :mod:`.char_lstm` | Karpathy's char-rnn on tiny-shakespeare |
| ``pos-tagger`` | :mod:`.pos_tagging` | a BiLSTM part-of-speech tagger on a UD treebank |
| ``gradients`` | :mod:`.gradients` | vanishing and exploding gradients: RNN versus LSTM |
| ``gpt`` | :mod:`.gpt_char` | a character-level GPT (decoder-only Transformer) on tiny-shakespeare |
| ``finetune`` | :mod:`.finetune` | MiniLM + a classification head on rt-polarity: full, head only, LoRA |

Every recipe has the same entry point::

    result = train(dataset=..., data_dir=None, out=None, arch=None, epochs=None, lr=None,
                   batch_size=None, seed=0, max_steps=None, max_minutes=None,
                   plots=True, quiet=False)
    result["metrics"]       # e.g. {"test_accuracy": 0.78, ...}
    result["checkpoint"]    # path of the model.safetensors written to ``out`` (or None)

Recipes sit above the models and the training loop (they use both) and below the CLI.
"""
