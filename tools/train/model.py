"""A small MobileLLM-LS style ternary (BitNet b1.58) language model in PyTorch.

Deep and thin: pre-RMSNorm blocks with grouped-query attention and a SwiGLU FFN,
a final RMSNorm, tied full-precision input/output embeddings, and immediate
block-wise weight sharing (each of the n_blocks unique blocks runs `repeat`
times in a row: executed layer l uses block l // repeat).

Every linear inside the blocks is a BitLinear trained with quantization in the
loop (straight-through estimator):
  weights:     s = mean(|W|) (per tensor, clamp 1e-5), W_q = s * clip(round(W / s), -1, 1)
  activations: a = max(|x|) per token (clamp 1e-5), x_q = clip(round(x * 127 / a), -128, 127) * a / 127
torch.round rounds half to even, like tern's nearbyint. There is no norm inside
the linear and no sub-norm, so the latent fp32 weights export directly as a
Hugging Face "MobileLLMForCausalLM" checkpoint that tern converts losslessly.

RoPE uses the Hugging Face rotate_half convention (halves [x1, x2] of each
head); tern's converter permutes q/k rows into its adjacent-pair order.
"""

import dataclasses
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclasses.dataclass
class Config:
    vocab_size: int = 4096
    dim: int = 192
    ffn: int = 512
    n_blocks: int = 12          # unique (stored) blocks
    repeat: int = 2             # each block runs this many times in a row
    n_heads: int = 6
    n_kv_heads: int = 2
    context: int = 256
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    quant: str = "bitnet"       # "bitnet" (BitLinear) or "paretoq" (SeqLinear, 16-bit activations)

    @property
    def head_dim(self):
        return self.dim // self.n_heads

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=1)

    @staticmethod
    def from_dict(d):
        return Config(**d)


def quant_weight(w):
    s = w.abs().mean().clamp(min=1e-5)
    return (w / s).round().clamp(-1, 1) * s


def quant_act(x):
    a = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return (x * 127 / a).round().clamp(-128, 127) * a / 127


class BitLinear(nn.Linear):
    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out, bias=False)

    def forward(self, x):
        w = self.weight
        wq = w + (quant_weight(w) - w).detach()
        xq = x + (quant_act(x) - x).detach()
        return F.linear(xq, wq)


class SeqLinear(nn.Linear):
    """A MobileLLM-ParetoQ style 1.58-bit linear (StretchedElasticQuant, w_bits 0).

    weights: alpha = weight_clip_val per row (learned, clamp 1e-5),
             W_q = round(clamp(W / alpha, -0.99, 0.99) * 1.5) / 1.5 * alpha
             (straight-through rounding; alpha gets its gradient through the product)
    activations: not quantized (the model's own forward keeps them in 16/32 bits).
    Exported as `weight` + `weight_clip_val` [out, 1] with config w_bits 0.
    """

    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out, bias=False)
        self.weight_clip_val = nn.Parameter(torch.ones(n_out, 1))

    def init_clip_val(self):
        # threshold alpha / 3 = half the mean |w| of the row, level alpha / 1.5 = the mean
        with torch.no_grad():
            self.weight_clip_val.copy_(1.5 * self.weight.abs().mean(dim=-1, keepdim=True))

    def forward(self, x):
        a = self.weight_clip_val.clamp(min=1e-5)
        u = (self.weight / a).clamp(-0.99, 0.99)
        q = u + ((u * 1.5).round() / 1.5 - u).detach()
        return F.linear(x, q * a)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, n_pos, theta, device=None):
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim)
    t = torch.arange(n_pos, dtype=torch.float64, device=device)
    freqs = torch.outer(t, inv_freq)                      # [n_pos, head_dim/2]
    emb = torch.cat([freqs, freqs], dim=-1)               # duplicated over both halves
    return emb.cos().float(), emb.sin().float()


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x, cos, sin):
    # x: [B, H, T, hd]; cos/sin: [T, hd]
    return x * cos + rotate_half(x) * sin


_masks = {}


def self_mask(T, device):
    """True above the diagonal (future positions), cached per length."""
    key = (T, str(device))
    if key not in _masks:
        _masks[key] = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
    return _masks[key]


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        hd = c.head_dim
        self.c = c
        Lin = SeqLinear if c.quant == "paretoq" else BitLinear
        self.input_layernorm = RMSNorm(c.dim, c.norm_eps)
        self.q_proj = Lin(c.dim, c.n_heads * hd)
        self.k_proj = Lin(c.dim, c.n_kv_heads * hd)
        self.v_proj = Lin(c.dim, c.n_kv_heads * hd)
        self.o_proj = Lin(c.n_heads * hd, c.dim)
        self.post_attention_layernorm = RMSNorm(c.dim, c.norm_eps)
        self.gate_proj = Lin(c.dim, c.ffn)
        self.up_proj = Lin(c.dim, c.ffn)
        self.down_proj = Lin(c.ffn, c.dim)

    def forward(self, x, cos, sin):
        c = self.c
        B, T, _ = x.shape
        hd = c.head_dim
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, c.n_heads, hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        rep = c.n_heads // c.n_kv_heads
        if rep > 1:  # query head h uses kv head h // rep (HF repeat_kv)
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        # (torch 1.13 in Debian 12 has no scaled_dot_product_attention)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(self_mask(T, x.device), float("-inf"))
        a = torch.softmax(att, dim=-1) @ v
        a = a.transpose(1, 2).reshape(B, T, c.n_heads * hd)
        x = x + self.o_proj(a)
        h = self.post_attention_layernorm(x)
        x = x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))
        return x


class TernaryLM(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.dim)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c.n_blocks)])
        self.norm = RMSNorm(c.dim, c.norm_eps)
        cos, sin = rope_tables(c.head_dim, c.context, c.rope_theta)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self._init()

    def _init(self):
        n_layers = self.c.n_blocks * self.c.repeat
        for name, p in self.named_parameters():
            if p.dim() == 2 and not name.endswith("weight_clip_val"):
                std = 0.02
                if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                    std = 0.02 / math.sqrt(2 * n_layers)
                nn.init.normal_(p, mean=0.0, std=std)
        for m in self.modules():
            if isinstance(m, SeqLinear):
                m.init_clip_val()

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        if T > self.c.context:
            raise ValueError(f"sequence of {T} tokens exceeds the context {self.c.context}")
        x = self.embed_tokens(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for blk in self.blocks:
            for _ in range(self.c.repeat):
                x = blk(x, cos, sin)
        x = self.norm(x)
        logits = F.linear(x, self.embed_tokens.weight)  # tied, full precision
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1))
        return logits, loss

    def param_counts(self):
        emb = self.embed_tokens.weight.numel()
        blocks = sum(p.numel() for p in self.blocks.parameters())
        norm = self.norm.weight.numel()
        unique = emb + blocks + norm
        effective = emb + blocks * self.c.repeat + norm
        return dict(unique=unique, effective=effective, embedding=emb, blocks=blocks)


def load_checkpoint(path, map_location="cpu"):
    ck = torch.load(path, map_location=map_location, weights_only=False)
    c = Config.from_dict(ck["config"])
    m = TernaryLM(c)
    m.load_state_dict(ck["model"])
    m.eval()
    return m, ck
