"""Neural-network building blocks, with PyTorch's names: ``nn.Module``, ``nn.Parameter``,
containers, layers, losses, ``nn.init``, ``nn.utils``, and the functional forms in
``neurona.nn.functional`` (import it as ``F``).

    import neurona.nn as nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
"""
from . import functional  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .module import Module  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa
from .linear import Identity, Linear, Flatten, Unflatten  # noqa: F401
from .activation import (Sigmoid, Tanh, ReLU, ReLU6, LeakyReLU, GELU, SiLU, ELU, Softmax,  # noqa
                         LogSoftmax, Softmin, Softplus, LogSigmoid, Hardtanh, Mish, Softsign,
                         Tanhshrink)
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d  # noqa: F401
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm  # noqa: F401
from .sparse import Embedding  # noqa: F401
from .positional import SinusoidalPositionalEncoding, LearnedPositionalEmbedding  # noqa: F401
from .conv import Conv1d, Conv2d  # noqa: F401
from .attention import MultiheadAttention  # noqa: F401
from .transformer import (TransformerEncoderLayer, TransformerDecoderLayer,  # noqa: F401
                          TransformerEncoder, TransformerDecoder, Transformer)
from .lora import LoRALinear, apply_lora, merge_lora, lora_state_dict  # noqa: F401
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d,  # noqa
                      AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d)
from .loss import (MSELoss, L1Loss, HuberLoss, SmoothL1Loss, BCELoss, BCEWithLogitsLoss,  # noqa
                   CrossEntropyLoss, NLLLoss, KLDivLoss)
from . import init, utils  # noqa: F401,E402
