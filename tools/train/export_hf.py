#!/usr/bin/python3
"""Exports a training checkpoint as a Hugging Face style MobileLLM folder.

Usage: tools/train/export_hf.py [--work /tmp/tern-train] [--ckpt WORK/ckpt/model.pt] [--out WORK/hf]

Writes OUT/config.json, OUT/model.safetensors (F32, written by hand: u64 LE
header length, JSON header padded with spaces to a multiple of 8, raw data) and
OUT/tokenizer.model. Tensor names follow HF llama; i runs over the UNIQUE blocks
(num_hidden_layers = unique blocks, layer_sharing_repeat = executed repeats):

  model.embed_tokens.weight                       (tied with the output; no lm_head)
  model.layers.{i}.input_layernorm.weight
  model.layers.{i}.self_attn.{q,k,v,o}_proj.weight
  model.layers.{i}.post_attention_layernorm.weight
  model.layers.{i}.mlp.{gate,up,down}_proj.weight
  model.norm.weight

Block linears are the LATENT fp32 weights W; `tern convert` ternarizes them
with the same absmean rule the model was trained with (s = mean|W| per tensor,
clip(round(W / s), -1, 1)), so the converted model is the trained model.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reference"))
from model import load_checkpoint  # noqa: E402
from hf_fixture import write_safetensors  # noqa: E402  (one safetensors writer for tools/)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/tern-train")
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--name", default="tern-kjv")
    args = ap.parse_args()
    ckpt = args.ckpt or os.path.join(args.work, "ckpt", "model.pt")
    out = args.out or os.path.join(args.work, "hf")
    tok = args.tokenizer or os.path.join(args.work, "tokenizer", "kjv4k.model")

    model, ck = load_checkpoint(ckpt)
    c = model.c
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    tensors = [("model.embed_tokens.weight", sd["embed_tokens.weight"])]
    paretoq = getattr(c, "quant", "bitnet") == "paretoq"
    for i in range(c.n_blocks):
        p = f"blocks.{i}."
        h = f"model.layers.{i}."
        if paretoq:  # ParetoQ: each linear's per-row alpha beside its latent weight
            for hf_name, name in (("self_attn.q_proj", "q_proj"), ("self_attn.k_proj", "k_proj"),
                                  ("self_attn.v_proj", "v_proj"), ("self_attn.o_proj", "o_proj"),
                                  ("mlp.gate_proj", "gate_proj"), ("mlp.up_proj", "up_proj"),
                                  ("mlp.down_proj", "down_proj")):
                tensors.append((h + hf_name + ".weight_clip_val", sd[p + name + ".weight_clip_val"]))
        tensors += [
            (h + "input_layernorm.weight", sd[p + "input_layernorm.weight"]),
            (h + "self_attn.q_proj.weight", sd[p + "q_proj.weight"]),
            (h + "self_attn.k_proj.weight", sd[p + "k_proj.weight"]),
            (h + "self_attn.v_proj.weight", sd[p + "v_proj.weight"]),
            (h + "self_attn.o_proj.weight", sd[p + "o_proj.weight"]),
            (h + "post_attention_layernorm.weight", sd[p + "post_attention_layernorm.weight"]),
            (h + "mlp.gate_proj.weight", sd[p + "gate_proj.weight"]),
            (h + "mlp.up_proj.weight", sd[p + "up_proj.weight"]),
            (h + "mlp.down_proj.weight", sd[p + "down_proj.weight"]),
        ]
    tensors.append(("model.norm.weight", sd["norm.weight"]))
    exported = {n for n, _ in tensors}
    assert len(exported) == len(sd), "state dict and export disagree"
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, "f32", {"format": "pt"})

    config = {
        "_name_or_path": args.name,
        "architectures": ["MobileLLMForCausalLM"],
        "model_type": "mobilellm",
        "hidden_size": c.dim,
        "intermediate_size": c.ffn,
        "num_hidden_layers": c.n_blocks,
        "num_attention_heads": c.n_heads,
        "num_key_value_heads": c.n_kv_heads,
        "head_dim": c.head_dim,
        "vocab_size": c.vocab_size,
        "max_position_embeddings": c.context,
        "rms_norm_eps": c.norm_eps,
        "rope_theta": c.rope_theta,
        "rope_scaling": None,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": True,
        "share_embedding": True,
        "layer_sharing": True,
        "layer_sharing_repeat": c.repeat,
        # Trained with BitNet b1.58 quantization in the loop: tern convert's absmean
        # ternarization reproduces the training forward exactly (no PTQ warning).
        "quantization_config": {"quant_method": "bitnet", "linear_class": "bitlinear",
                                "weight_bits": 1.58, "activation_bits": 8},
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
        "quantization": "BitNet b1.58 (absmean ternary weights per tensor, absmax int8 activations per token) "
                        "trained in the loop; block linears are stored as latent fp32 weights",
    }
    if paretoq:  # MobileLLM-ParetoQ: w_bits 0 (StretchedElasticQuant), 16-bit activations
        del config["quantization_config"]
        config["w_bits"] = 0
        config["quantization"] = ("MobileLLM-ParetoQ 1.58-bit (SEQ ternary weights, one alpha per row in "
                                  "weight_clip_val), activations not quantized; latent fp32 weights")
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    shutil.copyfile(tok, os.path.join(out, "tokenizer.model"))
    print(f"{out}: {len(tensors)} tensors from {ckpt} (step {ck.get('step')})")


if __name__ == "__main__":
    main()
