"""
The reference a delphi user has today, on the same GPU as `WEBGPU_ADAPTER=gpu npm run bench`: GPT-2 small
(real config, random weights) in PyTorch eager, float32 (TF32 off), up to blocks.6.hook_resid_pre, then an
SAE encode ((x - b_dec) @ W_enc + b_enc) and top-k, with the sparse result copied to the CPU, as the
engine does. 16 rows of 256 tokens a call, the median of repeats, tokens per second:
  (a) the full forward with logits, (b) the forward cut at the hook, (c) cut + encode + top-k + read-back.

  python3 bench/gpu/pytorch_reference.py --out $OUT/pytorch.json

Needs torch and transformers (the GPU machine's image has both); nothing is downloaded.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def timed(fn, repeats):
    fn()  # warm-up: kernels chosen, memory allocated
    torch.cuda.synchronize()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rows', type=int, default=16)
    parser.add_argument('--seq', type=int, default=256)
    parser.add_argument('--layer', type=int, default=6)
    parser.add_argument('--widths', default='24576,32768,131072')
    parser.add_argument('--k', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--out', default='pytorch.json')
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    device = torch.device('cuda')

    model = GPT2LMHeadModel(GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)).to(device).eval()
    tokens = torch.randint(0, 50256, (args.rows, args.seq), device=device)
    tokens[:, 0] = 50256
    n_tokens = args.rows * args.seq
    # The hook blocks.L.hook_resid_pre is the input of block L: keep blocks 0..L-1 and no final layer norm.
    blocks = model.transformer.h

    def cut_forward():
        x = model.transformer.wte(tokens) + model.transformer.wpe(torch.arange(args.seq, device=device))
        for block in blocks[: args.layer]:
            out = block(x)
            x = out[0] if isinstance(out, tuple) else out
        return x

    figures = {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'rows': args.rows, 'seq': args.seq, 'layer': args.layer, 'k': args.k, 'precision': 'float32 (TF32 off)'}
    with torch.inference_mode():
        full = timed(lambda: model(tokens).logits.float().cpu(), args.repeats)
        cut = timed(cut_forward, args.repeats)
        figures['pytorch_full_forward_tok_s'] = n_tokens / full
        figures[f'pytorch_cut_forward_tok_s_l{args.layer}'] = n_tokens / cut
        for width in [int(w) for w in args.widths.split(',')]:
            w_enc = torch.randn(768, width, device=device) / 768 ** 0.5
            b_enc = torch.zeros(width, device=device)
            b_dec = torch.randn(768, device=device) * 0.01

            def engine():
                x = cut_forward()
                pre = (x - b_dec) @ w_enc + b_enc
                top = pre.topk(args.k, dim=-1)
                return torch.relu(top.values).cpu(), top.indices.cpu()

            seconds = timed(engine, args.repeats)
            name = f'l{args.layer}_topk_{width}'
            figures[f'pytorch_engine_tok_s_{name}'] = n_tokens / seconds
            figures[f'pytorch_engine_over_cut_{name}'] = cut / seconds
            del w_enc
            torch.cuda.empty_cache()
    print(json.dumps(figures, indent=2))
    with open(args.out, 'w') as f:
        json.dump(figures, f, indent=2)


if __name__ == '__main__':
    main()
