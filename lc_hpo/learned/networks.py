"""The two learned curve models, as small PyTorch modules.

``RecursiveLSTM`` is the seed paper's model: an LSTM over (step, value, per-step change) that predicts
the next value; forecasting feeds each prediction back as the next input.

``MixtureLSTM`` is lc-hpo's default: the same kind of LSTM encodes the observed prefix once, and a
mixture-density head is queried directly at any target step (no error compounding through a rollout),
conditioned on the budget, returning a K-component Gaussian mixture in normalised units.
"""

from __future__ import annotations

import torch
from torch import nn

from .features import N_GLOBAL_FEATURES, N_QUERY_FEATURES, N_SEQ_FEATURES


class RecursiveLSTM(nn.Module):
    """One-step-ahead LSTM over (u, z, dz): the input features of the LSTM paper."""

    n_inputs = 3

    def __init__(self, hidden: int = 64, layers: int = 1) -> None:
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.lstm = nn.LSTM(self.n_inputs, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, state: tuple | None = None
                ) -> tuple[torch.Tensor, tuple]:
        """``x`` (N, L, 3) → next-value predictions (N, L) and the final LSTM state."""
        h, state = self.lstm(x, state)
        return self.out(h).squeeze(-1), state


class MixtureLSTM(nn.Module):
    """LSTM encoder of the prefix and a mixture-density head queried at target steps."""

    def __init__(self, hidden: int = 64, components: int = 5, layers: int = 1) -> None:
        super().__init__()
        self.hidden, self.components, self.layers = hidden, components, layers
        self.lstm = nn.LSTM(N_SEQ_FEATURES, hidden, num_layers=layers, batch_first=True)
        self.glob = nn.Sequential(nn.Linear(N_GLOBAL_FEATURES, hidden), nn.GELU())
        self.head = nn.Sequential(
            nn.Linear(2 * hidden + N_QUERY_FEATURES, hidden), nn.GELU(),
            nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, 3 * components),
        )

    def encode(self, seq: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
        """(N, L, F), (N, G) → a context vector per curve (N, 2·hidden)."""
        h, _ = self.lstm(seq)
        return torch.cat([h[:, -1], self.glob(glob)], dim=-1)

    def forward(self, seq: torch.Tensor, glob: torch.Tensor, query: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixture (log-weights, means, log-stds), each (N, H, K), at the queried targets (N, H, Q)."""
        ctx = self.encode(seq, glob)
        H = query.shape[1]
        inp = torch.cat([ctx[:, None, :].expand(-1, H, -1), query], dim=-1)
        out = self.head(inp).view(*inp.shape[:2], 3, self.components)
        logw = torch.log_softmax(out[:, :, 0], dim=-1)
        mean = out[:, :, 1]
        log_std = out[:, :, 2].clamp(-7.0, 6.0)
        return logw, mean, log_std


def mixture_nll(logw: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor,
                target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``target`` (N, H) under the mixtures, where ``mask`` is set."""
    z = (target[..., None] - mean) / log_std.exp()
    comp = -0.5 * z**2 - log_std - 0.9189385332046727
    ll = torch.logsumexp(logw + comp, dim=-1)
    return -(ll * mask).sum() / mask.sum().clamp(min=1)
