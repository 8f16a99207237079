#!/usr/bin/env python3
"""PyTorch-eager reference for the `anchors` bench suite: trains a LLaMA read from a Hugging Face folder
(config.json + model.safetensors, as `ModelLoader.Save` writes it) and prints one line `RESULT {json}`.

The model is written here from the published LLaMA definition (Touvron et al. 2023, as Hugging Face's
modeling_llama.py implements it in eager mode): RMSNorm, rotary embeddings in the rotate-half convention,
grouped-query attention (softmax(QKᵀ/√d + causal mask)·V), SwiGLU MLP, untied LM head. LoRA (Hu et al. 2021)
wraps q_proj and v_proj: y = W·x + (α/r)·B·A·x, A Kaiming-uniform, B zero, no dropout.

    python3 llama_reference.py MODEL_DIR METHOD(full|lora) BATCH STEPS THREADS
    python3 llama_reference.py MODEL_DIR nll IDS(comma-separated)

The second form prints the mean next-token NLL of one row of ids (the check that this model computes what
PeftHost computes from the same weights).

Training: AdamW (lr 1e-4, PyTorch's defaults otherwise), sequence length 256, random token ids (seed 7), one
warm-up step, then STEPS measured steps; tokens/s is the median over them. Evaluation: forward passes and the loss
only (no_grad) on the same batches, the median of STEPS passes after a warm-up. Peak RSS is the process's
ru_maxrss (what Linux reports as VmHWM), in bytes.
"""
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SEQ_LEN = 256


def read_safetensors(path):
    """Tensors of a .safetensors file (8-byte little-endian header length, JSON header, raw data)."""
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = bytearray(f.read())
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = dtypes[info["dtype"]]
        size = torch.empty(0, dtype=dtype).element_size()
        flat = torch.frombuffer(data, dtype=dtype, count=(end - start) // size, offset=start)
        tensors[name] = flat.reshape(info["shape"]).clone()
    return tensors


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LoraLinear(nn.Module):
    """A frozen linear layer plus the low-rank update (α/r)·B·A."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads", self.heads)
        self.head_dim = c.get("head_dim") or c["hidden_size"] // self.heads
        hidden = c["hidden_size"]
        self.q_proj = nn.Linear(hidden, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.kv_heads != self.heads:
            rep = self.heads // self.kv_heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return self.o_proj(out)


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], c["hidden_size"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = Mlp(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = Backbone(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        head_dim = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        theta = c.get("rope_theta", 10000.0)
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(SEQ_LEN, dtype=torch.float32), inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        self.register_buffer("cos", emb.cos()[None, None], persistent=False)
        self.register_buffer("sin", emb.sin()[None, None], persistent=False)
        self.register_buffer("mask", torch.full((SEQ_LEN, SEQ_LEN), float("-inf")).triu(1)[None, None], persistent=False)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.model.embed_tokens(ids)
        cos, sin, mask = self.cos[:, :, :t], self.sin[:, :, :t], self.mask[:, :, :t, :t]
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.model.norm(x))


def loss_of(model, ids):
    logits = model(ids)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    model = LlamaForCausalLM(config)
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    if config.get("tie_word_embeddings") and "lm_head.weight" not in weights:
        model.lm_head.weight = model.model.embed_tokens.weight
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise SystemExit(f"{model_dir}: weights do not match the model (missing {missing}, unexpected {unexpected})")
    return config, model


def main():
    if sys.argv[2] == "nll":
        _, model = load(sys.argv[1])
        ids = torch.tensor([[int(t) for t in sys.argv[3].split(",")]])
        with torch.no_grad():
            print("RESULT " + json.dumps({"nll": float(loss_of(model.eval(), ids))}), flush=True)
        return
    model_dir, method, batch, steps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config, model = load(model_dir)
    if method == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in model.model.layers:
            layer.self_attn.q_proj = LoraLinear(layer.self_attn.q_proj, r=8, alpha=16)
            layer.self_attn.v_proj = LoraLinear(layer.self_attn.v_proj, r=8, alpha=16)
    elif method != "full":
        raise SystemExit(f"unknown method {method} (full or lora)")
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)

    generator = torch.Generator().manual_seed(7)
    batches = [torch.randint(3, config["vocab_size"], (batch, SEQ_LEN), generator=generator) for _ in range(steps + 1)]
    model.train()
    rates = []
    for ids in batches:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(model, ids)
        loss.backward()
        optimizer.step()
        rates.append(batch * SEQ_LEN / (time.perf_counter() - start))
    model.eval()
    eval_rates = []
    with torch.no_grad():
        for ids in batches:
            start = time.perf_counter()
            loss_of(model, ids)
            eval_rates.append(batch * SEQ_LEN / (time.perf_counter() - start))
    print("RESULT " + json.dumps({
        "tokensPerSecond": statistics.median(rates[1:]),
        "evalTokensPerSecond": statistics.median(eval_rates[1:]),
        "peakRss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "trainable": sum(p.numel() for p in trainable),
        "loss": float(loss),
        "torch": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
