"""Writes tiny random GPT-2, Llama, BERT and DistilBERT checkpoints with transformers 4.46.3, and the
log-probabilities transformers itself computes for them, into tests/fixtures/neural/.

lmgauge's parity tests load the same folders and must agree within 1e-4 (relative) on:
  * causal, lm-evaluation-harness rolling windows (HFLM.loglikelihood_rolling: disjoint windows of
    max_length tokens, the first predicted from the end-of-text token; the window function is
    lm_eval 0.4.5's own get_rolling_token_windows / make_disjoint_window);
  * causal, the transformers documentation's sliding window (whole text one sequence, no BOS,
    windows of max_length advancing by stride, only the new tokens of each window scored, the first
    token unscored);
  * reward models (sequence classification, one label): the logit of
    tokenizer(prompt, response, truncation=True, max_length=max_position_embeddings), i.e.
    `[CLS] prompt [SEP] response [SEP]` with longest-first truncation, on HH-RLHF pairs;
  * masked, pseudo-log-likelihood by the per-token masking loop (PLL: mask one token; PLL-word-l2r:
    also mask the tokens of the same word to its right), `[CLS] text [SEP]`, long texts windowed.

Run with the reference venv: .tools/venv/bin/python scripts/neural-fixtures.py [roberta|albert|llama|gpt-neo|decoders|generate|roberta-reward|deberta-reward]
(a family name adds only that family to the existing expected.json)
(pip install torch==2.4.0 transformers==4.46.3 lm_eval==0.4.5 --no-deps for lm_eval).
Gemma 3 (transformers >= 4.50): PYTHONPATH=.tools/transformers-4.50 .tools/venv/bin/python
scripts/neural-fixtures.py gemma3 (pip install --target .tools/transformers-4.50 --no-deps
transformers==4.50.3 tokenizers==0.21.1 huggingface_hub==0.30.2).
"""
import importlib.util
import json
import os
import shutil
import sys

import torch
import transformers
from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer
from transformers import (RobertaConfig, RobertaForMaskedLM, RobertaTokenizerFast, BertConfig, BertForMaskedLM, BertForSequenceClassification,
                          BertTokenizerFast, DistilBertConfig, DistilBertForMaskedLM,
                          DistilBertForSequenceClassification, GPT2Config, GPT2LMHeadModel,
                          GPT2TokenizerFast)

# Gemma 3 needs transformers >= 4.50: its fixture alone runs with 4.50.3 (`gemma3` below).
GEMMA3 = sys.argv[1:] == ["gemma3"]
assert transformers.__version__ == ("4.50.3" if GEMMA3 else "4.46.3"), transformers.__version__
assert torch.__version__.startswith("2.4.0"), torch.__version__
torch.set_num_threads(2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "neural")
WIKI = os.path.join(ROOT, "data", "wikitext-2")


def lm_eval_utils():
    """lm_eval.utils straight from its file: the package's __init__ pulls in half of PyPI."""
    spec = importlib.util.find_spec("lm_eval")
    path = os.path.join(os.path.dirname(spec.origin), "utils.py")
    s = importlib.util.spec_from_file_location("lm_eval_utils", path)
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


LE = lm_eval_utils()


def read_lines(name):
    with open(os.path.join(WIKI, name), encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


def pick_texts():
    test = [l for l in read_lines("test.txt") if l.strip()]
    longest = max(test[:400], key=len)
    short = [l for l in test if 20 < len(l) < 60][:2]
    medium = [l for l in test if 150 < len(l) < 260][:2]
    accented = [l for l in test if any(ord(c) > 127 for c in l) and len(l) < 300][:1]
    return short + medium + accented + [longest]


def train_tokenizers(tmp):
    corpus = read_lines("valid.txt")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=420, min_frequency=2, special_tokens=["<|endoftext|>"])
    os.makedirs(os.path.join(tmp, "bpe"), exist_ok=True)
    bpe.save_model(os.path.join(tmp, "bpe"))
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(corpus, vocab_size=400, min_frequency=2,
                           special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    os.makedirs(os.path.join(tmp, "wp"), exist_ok=True)
    wp.save_model(os.path.join(tmp, "wp"))
    gpt2_tok = GPT2TokenizerFast(os.path.join(tmp, "bpe", "vocab.json"), os.path.join(tmp, "bpe", "merges.txt"))
    bert_tok = BertTokenizerFast(os.path.join(tmp, "wp", "vocab.txt"))
    return gpt2_tok, bert_tok


@torch.no_grad()
def rolling_logprobs(model, ids, eot, max_length):
    """HFLM.loglikelihood_rolling for one document, batch size 1, as lm_eval 0.4.5 computes it."""
    out = []
    windows = map(LE.make_disjoint_window, LE.get_rolling_token_windows(
        token_list=ids, prefix_token=eot, max_seq_len=max_length, context_len=1))
    for context, continuation in windows:
        inp = (context + continuation)[-(max_length + 1):][:-1]
        logits = model(torch.tensor([inp])).logits[0].float()
        lp = torch.log_softmax(logits, dim=-1)[-len(continuation):]
        out += lp.gather(1, torch.tensor(continuation)[:, None])[:, 0].tolist()
    return out


@torch.no_grad()
def sliding_logprobs(model, ids, max_length, stride):
    """The transformers perplexity guide's loop, per token: window [begin, end), the trg_len new
    tokens scored (labels of the rest are -100; the label shift leaves the first token unscored)."""
    out = []
    window_losses = []
    prev_end = 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        trg_len = end - prev_end
        inp = torch.tensor([ids[begin:end]])
        target = inp.clone()
        target[:, :-trg_len] = -100
        o = model(inp, labels=target)
        lp = torch.log_softmax(o.logits[0].float(), dim=-1)
        scored = []
        for k in range(max(begin + 1, end - trg_len), end):
            scored.append(lp[k - 1 - begin, ids[k]].item())
        # The guide's own loss must be the mean of exactly these tokens.
        if scored:
            assert abs(o.loss.item() + sum(scored) / len(scored)) < 1e-4, (o.loss.item(), sum(scored) / len(scored))
            window_losses.append(o.loss.item())
        out += scored
        prev_end = end
        if end == len(ids):
            break
    return out, window_losses


def pll_windows(n, max_content, stride):
    """(begin, end, first_scored) windows over n content tokens: like the sliding guide, each token
    is scored once, in the first window that holds it."""
    if n <= max_content:
        return [(0, n, 0)]
    out, prev_end = [], 0
    for begin in range(0, n, stride):
        end = min(begin + max_content, n)
        out.append((begin, end, prev_end))
        prev_end = end
        if end == n:
            break
    return out


@torch.no_grad()
def pll_logprobs(model, tok, text, max_positions, stride, word_l2r):
    enc = tok(text, add_special_tokens=False)
    ids, words = enc["input_ids"], enc.word_ids()
    cls, sep, mask = tok.cls_token_id, tok.sep_token_id, tok.mask_token_id
    out = []
    for begin, end, first in pll_windows(len(ids), max_positions - 2, stride):
        window = [cls] + ids[begin:end] + [sep]
        for i in range(first, end):
            masked = list(window)
            masked[1 + i - begin] = mask
            if word_l2r:
                for j in range(i + 1, end):
                    if words[j] == words[i]:
                        masked[1 + j - begin] = mask
            logits = model(torch.tensor([masked])).logits[0, 1 + i - begin].float()
            out.append(torch.log_softmax(logits, dim=-1)[ids[i]].item())
    return ids, out


def pll_record(model, tok, texts, max_pos):
    """PLL and PLL-word-l2r of every text, windows of max_pos positions, stride half a window."""
    stride = (max_pos - 2) // 2
    rec = {"max_positions": max_pos, "stride": stride, "items": []}
    for text in texts:
        ids, pll = pll_logprobs(model, tok, text, max_pos, stride, False)
        _, l2r = pll_logprobs(model, tok, text, max_pos, stride, True)
        rec["items"].append({"ids": ids, "pll": pll, "word_l2r": l2r})
    return rec


def hh_pairs(n):
    path = os.path.join(ROOT, "data", "hh-rlhf", "harmless-base-test.jsonl")
    out = [("Human: hi\n\nAssistant:", " Hello!")]
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            for key in ("chosen", "rejected"):
                t = rec[key]
                cut = t.rindex("\n\nAssistant:") + len("\n\nAssistant:")
                out.append((t[:cut], t[cut:]))
            if len(out) > n:
                break
    return out


@torch.no_grad()
def reward_fixtures(tok):
    pairs = hh_pairs(8)
    out = {"pairs": [list(p) for p in pairs], "models": {}}
    for name, cfg, cls in [
        ("bert-reward", BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=64, max_position_embeddings=64, num_labels=1,
                                   initializer_range=0.3), BertForSequenceClassification),
        ("distilbert-reward", DistilBertConfig(vocab_size=len(tok), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                               max_position_embeddings=48, num_labels=1, initializer_range=0.3),
         DistilBertForSequenceClassification),
    ]:
        model = cls(cfg).eval()
        save(model, tok, name)
        max_len = cfg.max_position_embeddings
        rewards, lengths = [], []
        for prompt, response in pairs:
            enc = tok(prompt, response, truncation=True, max_length=max_len, return_tensors="pt")
            if name.startswith("distil"):
                enc.pop("token_type_ids")
            rewards.append(model(**enc).logits[0, 0].item())
            lengths.append(enc["input_ids"].shape[1])
        # Batched with padding gives the same rewards (the tests batch too).
        enc = tok([p for p, _ in pairs], [r for _, r in pairs], truncation=True, max_length=max_len,
                  padding=True, return_tensors="pt")
        if name.startswith("distil"):
            enc.pop("token_type_ids")
        batched = model(**enc).logits[:, 0]
        assert torch.allclose(batched, torch.tensor(rewards), atol=1e-4)
        out["models"][name] = {"rewards": rewards, "lengths": lengths}
        print(name, "ok", file=sys.stderr)
    return out


@torch.no_grad()
def roberta_reward_fixture(expected, tmp):
    """RobertaForSequenceClassification with one label: `<s> prompt </s></s> response </s>`, no
    segment ids, longest-first truncation to max_position_embeddings - 2 (positions start after
    the padding index)."""
    from transformers import RobertaForSequenceClassification
    torch.manual_seed(20261202)
    tok = roberta_tokenizer(tmp)
    cfg = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=66, pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, num_labels=1,
                        initializer_range=0.3)
    model = RobertaForSequenceClassification(cfg).eval()
    save(model, tok, "roberta-reward")
    pairs = [tuple(p) for p in expected["reward"]["pairs"]]
    max_len = cfg.max_position_embeddings - 2
    rewards, lengths = [], []
    for prompt, response in pairs:
        enc = tok(prompt, response, truncation=True, max_length=max_len, return_tensors="pt")
        assert "token_type_ids" not in enc
        rewards.append(model(**enc).logits[0, 0].item())
        lengths.append(enc["input_ids"].shape[1])
    enc = tok([p for p, _ in pairs], [r for _, r in pairs], truncation=True, max_length=max_len, padding=True, return_tensors="pt")
    assert torch.allclose(model(**enc).logits[:, 0], torch.tensor(rewards), atol=1e-4)
    expected["reward"]["models"]["roberta-reward"] = {"rewards": rewards, "lengths": lengths}
    print("roberta-reward ok", file=sys.stderr)


@torch.no_grad()
def deberta_reward_fixture(expected, tmp):
    """DebertaV2ForSequenceClassification with one label, read like BERT: `[CLS] prompt [SEP]
    response [SEP]` with segment ids 0/1, longest-first truncation to max_position_embeddings.
    Two shapes: `deberta-v3-reward` as DeBERTa-v3 (relative attention with log buckets, c2p+p2c,
    shared keys, layer-normed relative embeddings, no absolute positions, no segment embeddings)
    and `deberta-v2-reward` as the older v2 (absolute positions added to the input, segment
    embeddings, separate position projections, no buckets, the convolution beside the first
    layer, a narrower embedding projected up, tanh-approximated GELU)."""
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification
    _, tok = train_tokenizers(tmp)
    shapes = {
        "deberta-v3-reward": dict(max_position_embeddings=64, type_vocab_size=0, relative_attention=True,
                                  position_buckets=16, max_relative_positions=-1, pos_att_type=["p2c", "c2p"],
                                  norm_rel_ebd="layer_norm", share_att_key=True, position_biased_input=False),
        "deberta-v2-reward": dict(max_position_embeddings=48, type_vocab_size=2, relative_attention=True,
                                  max_relative_positions=24, pos_att_type="c2p|p2c", share_att_key=False,
                                  position_biased_input=True, conv_kernel_size=3, conv_act="gelu",
                                  embedding_size=24, hidden_act="gelu_new", layer_norm_eps=1e-7),
    }
    for seed, (name, shape) in enumerate(shapes.items()):
        torch.manual_seed(20261203 + seed)
        cfg = DebertaV2Config(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=64, pad_token_id=tok.pad_token_id, num_labels=1,
                              initializer_range=0.3, **shape)
        model = DebertaV2ForSequenceClassification(cfg).eval()
        save(model, tok, name)
        pairs = [tuple(p) for p in expected["reward"]["pairs"]]
        max_len = cfg.max_position_embeddings
        rewards, lengths = [], []
        for prompt, response in pairs:
            enc = tok(prompt, response, truncation=True, max_length=max_len, return_tensors="pt")
            rewards.append(model(**enc).logits[0, 0].item())
            lengths.append(enc["input_ids"].shape[1])
        enc = tok([p for p, _ in pairs], [r for _, r in pairs], truncation=True, max_length=max_len,
                  padding=True, return_tensors="pt")
        assert torch.allclose(model(**enc).logits[:, 0], torch.tensor(rewards), atol=1e-4)
        expected["reward"]["models"][name] = {"rewards": rewards, "lengths": lengths}
        print(name, "ok", file=sys.stderr)


def save(model, tok, name, **kw):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    model.save_pretrained(path, **kw)
    tok.save_pretrained(path)
    return path


def roberta_tokenizer(tmp):
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(read_lines("valid.txt"), vocab_size=420, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    os.makedirs(os.path.join(tmp, "rbpe"), exist_ok=True)
    bpe.save_model(os.path.join(tmp, "rbpe"))
    return RobertaTokenizerFast(os.path.join(tmp, "rbpe", "vocab.json"), os.path.join(tmp, "rbpe", "merges.txt"))


def roberta_fixture(expected, tmp):
    """RoBERTa (position ids offset by padding_idx + 1, layer_norm_eps 1e-5, tied LM head)."""
    torch.manual_seed(20261130)
    tok = roberta_tokenizer(tmp)
    cfg = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=66, pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, initializer_range=0.3)
    model = RobertaForMaskedLM(cfg).eval()
    save(model, tok, "roberta-safetensors")
    expected["masked"]["roberta-safetensors"] = pll_record(model, tok, expected["texts"], cfg.max_position_embeddings - 2)
    print("roberta-safetensors ok", file=sys.stderr)


def llama_tokenizer(tmp):
    """Byte-level BPE with a beginning-of-text token distinct from the end-of-text one, so the
    rolling windows' prefix (lm_eval: bos when the tokenizer has one) is tested."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(read_lines("valid.txt"), vocab_size=400, min_frequency=2,
                            special_tokens=["<|endoftext|>", "<|im_start|>"])
    path = os.path.join(tmp, "llama-tokenizer.json")
    os.makedirs(tmp, exist_ok=True)
    bpe.save(path)
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(path), bos_token="<|im_start|>",
                                   eos_token="<|endoftext|>")


def causal_record(model, encode, prefix, max_len, texts, file_text):
    """Rolling and sliding log-probabilities of every text and of the whole file (stride a
    quarter of the context), as the causal parity tests read them."""
    stride = max_len // 4
    rec = {"n_positions": max_len, "stride": stride, "prefix_token": prefix, "items": []}
    for text in texts:
        ids = encode(text)
        rec["items"].append({"ids": ids, "rolling": rolling_logprobs(model, ids, prefix, max_len),
                             "sliding": sliding_logprobs(model, ids, max_len, stride)[0]})
    ids = encode(file_text)
    sliding, losses = sliding_logprobs(model, ids, max_len, stride)
    rec["file"] = {"ids_len": len(ids), "sliding": sliding, "rolling": rolling_logprobs(model, ids, prefix, max_len),
                   "guide_window_losses": losses}
    return rec


def llama_fixtures(expected, tmp):
    """LlamaForCausalLM: grouped-query and plain attention, tied and untied output, rope_theta."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(20261201)
    tok = llama_tokenizer(tmp)
    bos = tok.bos_token_id
    texts = expected["texts"]
    file_text = expected["file_text"]
    shapes = [
        ("llama-gqa-tied", dict(hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=6,
                                num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True,
                                rope_theta=100000.0, rms_norm_eps=1e-5)),
        ("llama-mha-untied", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                                  num_key_value_heads=4, max_position_embeddings=48, tie_word_embeddings=False)),
    ]
    for name, shape in shapes:
        cfg = LlamaConfig(vocab_size=len(tok), bos_token_id=bos, eos_token_id=tok.eos_token_id,
                          initializer_range=0.3, **shape)
        model = LlamaForCausalLM(cfg).eval()
        save(model, tok, name)
        rec = causal_record(model, lambda t: tok(t, add_special_tokens=False)["input_ids"], bos,
                            cfg.max_position_embeddings, texts, file_text)
        # Greedy continuation of one prompt (for the key/value cache and, later, generation).
        prompt = tok(texts[0], add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False, pad_token_id=tok.eos_token_id)
        rec["greedy"] = {"prompt": prompt, "continuation": out[0, len(prompt):].tolist()}
        expected["causal"][name] = rec
        print(name, "ok", file=sys.stderr)


@torch.no_grad()
def randomize_norms_and_biases(model, gemma):
    """transformers initialises biases to zero and norm weights to one (Gemma's to zero, as it
    scales by 1 + w): a reader that dropped a bias or mistook the norm's offset would still
    match. Random values make both matter."""
    for n, p in model.named_parameters():
        if n.endswith("bias"):
            p.normal_(0.0, 0.3)
        elif "norm" in n:
            p.normal_(0.0 if gemma else 1.0, 0.3)


def decoder_fixtures(expected, tmp):
    """The decoder architectures lmgauge computes with one network (issue #20): Llama with rope
    scaling of each type, Qwen2 (q/k/v biases, tied and untied), Mistral (sliding window shorter
    than the texts), Gemma 2 (scaled embeddings, 1 + w norms, sandwich norms, GeGLU, a head size
    apart from hidden/heads, query_pre_attn_scalar, attention and final soft-capping small enough
    to matter, local/global alternation with a short window; eager attention, its default) and
    Phi-3 (fused qkv and gate/up, sliding window, longrope with an original context shorter than
    the longer texts, so both factor sets are used). Shapes are realistic ones shrunk."""
    from transformers import (Gemma2Config, Gemma2ForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig,
                              MistralForCausalLM, Phi3Config, Phi3ForCausalLM, Qwen2Config, Qwen2ForCausalLM)
    torch.manual_seed(20261206)
    tok = llama_tokenizer(tmp)
    bos, eos = tok.bos_token_id, tok.eos_token_id
    ids = dict(vocab_size=len(tok), bos_token_id=bos, eos_token_id=eos, initializer_range=0.3)
    models = [
        ("llama3-rope", LlamaForCausalLM, LlamaConfig(
            hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=3, num_key_value_heads=1,
            max_position_embeddings=64, tie_word_embeddings=True, rope_theta=500000.0, rms_norm_eps=1e-5,
            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": 40}, **ids)),
        ("llama-linear-rope", LlamaForCausalLM, LlamaConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=48, tie_word_embeddings=False, rope_scaling={"type": "linear", "factor": 4.0}, **ids)),
        ("llama-dynamic-rope", LlamaForCausalLM, LlamaConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=48, rope_scaling={"type": "dynamic", "factor": 2.0}, **ids)),
        ("qwen2-tied", Qwen2ForCausalLM, Qwen2Config(
            hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2,
            max_position_embeddings=64, tie_word_embeddings=True, rope_theta=1000000.0, **ids)),
        ("qwen2-untied", Qwen2ForCausalLM, Qwen2Config(
            hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
            max_position_embeddings=48, tie_word_embeddings=False, **ids)),
        ("mistral-window", MistralForCausalLM, MistralConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            head_dim=12, max_position_embeddings=64, sliding_window=8, **ids)),
        ("gemma2-softcap", Gemma2ForCausalLM, Gemma2Config(
            hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
            head_dim=16, max_position_embeddings=64, query_pre_attn_scalar=12, sliding_window=8,
            attn_logit_softcapping=4.0, final_logit_softcapping=3.0, pad_token_id=eos,
            attn_implementation="eager", **ids)),
        ("phi3-longrope", Phi3ForCausalLM, Phi3Config(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=64, original_max_position_embeddings=16, sliding_window=12, pad_token_id=eos,
            rope_scaling={"type": "longrope", "short_factor": [1.0, 1.1, 1.5, 2.0],
                          "long_factor": [1.0, 2.5, 6.0, 14.0]}, **ids)),
    ]
    for name, cls, cfg in models:
        model = cls(cfg).eval()
        randomize_norms_and_biases(model, gemma=cfg.model_type.startswith("gemma"))
        save(model, tok, name)
        rec = causal_record(model, lambda t: tok(t, add_special_tokens=False)["input_ids"], bos,
                            cfg.max_position_embeddings, expected["texts"], expected["file_text"])
        rec["architecture"] = cfg.model_type
        expected["causal"][name] = rec
        print(name, "ok", file=sys.stderr)


def gemma3_fixture(expected, tmp):
    """Gemma 3's text model with transformers 4.50.3 (the first release that has it; run with
    PYTHONPATH=.tools/transformers-4.50): Gemma 2's block plus per-head query/key norms, local
    layers with their own rope base and no scaling, global ones with linear rope scaling, the
    window pattern (here every third layer global) and a window of 8 against longer texts; eager
    attention. Its greedy continuations are written here too, by the same transformers."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig
    torch.manual_seed(20261207)
    tok = llama_tokenizer(tmp)
    bos, eos = tok.bos_token_id, tok.eos_token_id
    name = "gemma3-local-global"
    cfg = Gemma3TextConfig(
        vocab_size=len(tok), bos_token_id=bos, eos_token_id=eos, pad_token_id=eos, initializer_range=0.3,
        hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
        head_dim=16, max_position_embeddings=64, query_pre_attn_scalar=12, sliding_window=8,
        sliding_window_pattern=3, rope_theta=1000000.0, rope_local_base_freq=100.0,
        rope_scaling={"rope_type": "linear", "factor": 4.0}, attn_implementation="eager")
    model = Gemma3ForCausalLM(cfg).eval()
    randomize_norms_and_biases(model, gemma=True)
    save(model, tok, name)
    rec = causal_record(model, lambda t: tok(t, add_special_tokens=False)["input_ids"], bos,
                        cfg.max_position_embeddings, expected["texts"], expected["file_text"])
    rec["architecture"] = cfg.model_type
    expected["causal"][name] = rec
    generated = {}
    generate_fixtures({"texts": expected["texts"], "causal": {name: rec}}, tmp, generated)
    expected["generate"].update(generated)
    print(name, "ok", file=sys.stderr)


def gpt_neo_fixtures(expected, tmp):
    """GPTNeoForCausalLM: unscaled attention, global and local layers with a window shorter than
    the texts (so the local mask matters), tied (gelu_new, default 4·d MLP) and untied (exact
    gelu, explicit intermediate_size) output; the GPT-2 tokenizer, end-of-text as prefix."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM
    torch.manual_seed(20261204)
    tok, _ = train_tokenizers(tmp)
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    texts = expected["texts"]
    file_text = expected["file_text"]
    shapes = [
        ("gpt-neo-tied", dict(hidden_size=32, num_layers=3, num_heads=4, max_position_embeddings=48, window_size=8,
                              attention_types=[[["global", "local"], 1], [["local"], 1]])),
        ("gpt-neo-untied", dict(hidden_size=24, num_layers=2, num_heads=2, max_position_embeddings=40, window_size=5,
                                attention_types=[[["local", "global"], 1]], intermediate_size=40,
                                activation_function="gelu", tie_word_embeddings=False)),
    ]
    for name, shape in shapes:
        cfg = GPTNeoConfig(vocab_size=len(tok), bos_token_id=eot, eos_token_id=eot, initializer_range=0.3, **shape)
        model = GPTNeoForCausalLM(cfg).eval()
        save(model, tok, name)
        expected["causal"][name] = causal_record(model, lambda t: tok(t)["input_ids"], eot,
                                                 cfg.max_position_embeddings, texts, file_text)
        print(name, "ok", file=sys.stderr)


def albert_fixture(expected, tmp):
    """AlbertForMaskedLM: factorised embeddings (embedding_size < hidden_size), one layer's weights
    shared by all layers (num_hidden_groups 1) and an MLM head that projects back to the embedding
    size; the decoder tied to the word embeddings. WordPiece tokenizer as for BERT."""
    from transformers import AlbertConfig, AlbertForMaskedLM
    torch.manual_seed(20261205)
    _, tok = train_tokenizers(tmp)
    cfg = AlbertConfig(vocab_size=len(tok), embedding_size=16, hidden_size=32, num_hidden_layers=3,
                       num_attention_heads=4, intermediate_size=64, max_position_embeddings=48,
                       pad_token_id=tok.pad_token_id, initializer_range=0.3)
    model = AlbertForMaskedLM(cfg).eval()
    save(model, tok, "albert-safetensors")
    expected["masked"]["albert-safetensors"] = pll_record(model, tok, expected["texts"], cfg.max_position_embeddings)
    print("albert-safetensors ok", file=sys.stderr)


@torch.no_grad()
def generate_fixtures(expected, tmp, out=None):
    """Greedy continuations by transformers' generate (do_sample=False, 12 new tokens, stopping
    at the end-of-text token) of three short prompts, for every causal fixture folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    prompts = [" ".join(t.split()[:n]) for t, n in zip(expected["texts"], (6, 9, 4))]
    out = {} if out is None else out
    for name in expected["causal"]:
        if expected["causal"][name].get("architecture") == "gemma3_text" and not GEMMA3:
            # Written by transformers 4.50.3 with its checkpoint (`gemma3`); 4.46.3 cannot load it.
            out[name] = expected["generate"][name]
            continue
        path = os.path.join(OUT, name)
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        tok = AutoTokenizer.from_pretrained(path)
        eos = model.config.eos_token_id
        rec = []
        for prompt in prompts:
            ids = tok(prompt, add_special_tokens=False)["input_ids"]
            gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=12, do_sample=False, pad_token_id=eos, eos_token_id=eos)
            cont = gen[0, len(ids):].tolist()
            if eos in cont:
                cont = cont[:cont.index(eos) + 1]
            rec.append({"prompt": prompt, "prompt_ids": ids, "continuation": cont})
        out[name] = rec
        print(name, "generate ok", file=sys.stderr)
    expected["generate"] = out


def main():
    if sys.argv[1:] in (["roberta"], ["albert"], ["llama"], ["gpt-neo"], ["generate"], ["roberta-reward"], ["deberta-reward"],
                        ["decoders"], ["gemma3"]):
        # Adds one family's fixtures to an existing expected.json, leaving the others as they are.
        path = os.path.join(OUT, "expected.json")
        expected = json.load(open(path, encoding="utf-8"))
        tmp = os.path.join(OUT, ".tmp")
        {"roberta": roberta_fixture, "albert": albert_fixture, "llama": llama_fixtures, "gpt-neo": gpt_neo_fixtures, "generate": generate_fixtures,
         "decoders": decoder_fixtures, "gemma3": gemma3_fixture,
         "roberta-reward": roberta_reward_fixture, "deberta-reward": deberta_reward_fixture}[sys.argv[1]](expected, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(expected, f, indent=1, ensure_ascii=False)
            f.write("\n")
        return
    torch.manual_seed(20261129)
    tmp = os.path.join(OUT, ".tmp")
    os.makedirs(OUT, exist_ok=True)
    gpt2_tok, bert_tok = train_tokenizers(tmp)
    texts = pick_texts()
    file_text = "\n".join(read_lines("test.txt")[:12])
    eot = gpt2_tok.convert_tokens_to_ids("<|endoftext|>")
    expected = {"transformers": transformers.__version__, "torch": torch.__version__, "texts": texts,
                "file_text": file_text, "causal": {}, "masked": {}}

    causal = [
        # name, config, save options, keep tokenizer.json
        ("gpt2-safetensors", dict(n_positions=64, n_embd=32, n_layer=2, n_head=4), {}, True),
        ("gpt2-bin", dict(n_positions=48, n_embd=24, n_layer=3, n_head=2), {"safe_serialization": False}, False),
        ("gpt2-sharded", dict(n_positions=32, n_embd=16, n_layer=2, n_head=2), {"max_shard_size": "20KB"}, True),
    ]
    for name, shape, opts, keep_json in causal:
        cfg = GPT2Config(vocab_size=len(gpt2_tok), bos_token_id=eot, eos_token_id=eot,
                         initializer_range=0.3, **shape)
        model = GPT2LMHeadModel(cfg).eval()
        path = save(model, gpt2_tok, name, **opts)
        if not keep_json:
            os.remove(os.path.join(path, "tokenizer.json"))
        max_len = cfg.n_positions
        stride = max_len // 4
        rec = {"n_positions": max_len, "stride": stride, "items": []}
        for text in texts:
            ids = gpt2_tok(text)["input_ids"]
            rec["items"].append({
                "ids": ids,
                "rolling": rolling_logprobs(model, ids, eot, max_len),
                "sliding": sliding_logprobs(model, ids, max_len, stride)[0],
            })
        ids = gpt2_tok(file_text)["input_ids"]
        sliding, losses = sliding_logprobs(model, ids, max_len, stride)
        rec["file"] = {"ids_len": len(ids), "sliding": sliding, "rolling": rolling_logprobs(model, ids, eot, max_len),
                       "guide_window_losses": losses}
        # A padded batch in transformers gives the unbatched numbers (the tests batch too).
        batch = [gpt2_tok(t)["input_ids"][:max_len] for t in texts]
        width = max(map(len, batch))
        inp = torch.tensor([b + [0] * (width - len(b)) for b in batch])
        att = torch.tensor([[1] * len(b) + [0] * (width - len(b)) for b in batch])
        with torch.no_grad():
            lp = torch.log_softmax(model(inp, attention_mask=att).logits.float(), -1)
            for r, b in enumerate(batch):
                alone = torch.log_softmax(model(torch.tensor([b])).logits[0].float(), -1)
                assert torch.allclose(lp[r, :len(b)], alone, atol=1e-4)
        expected["causal"][name] = rec
        print(name, "ok", file=sys.stderr)

    masked = [
        ("bert-safetensors", BertConfig(vocab_size=len(bert_tok), hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=4, intermediate_size=64,
                                        max_position_embeddings=64, initializer_range=0.3), BertForMaskedLM, False),
        ("distilbert-safetensors", DistilBertConfig(vocab_size=len(bert_tok), dim=32, n_layers=2, n_heads=4,
                                                    hidden_dim=64, max_position_embeddings=48,
                                                    initializer_range=0.3), DistilBertForMaskedLM, True),
    ]
    for name, cfg, cls, keep_json in masked:
        model = cls(cfg).eval()
        path = save(model, bert_tok, name)
        if not keep_json:
            os.remove(os.path.join(path, "tokenizer.json"))
        expected["masked"][name] = pll_record(model, bert_tok, texts, cfg.max_position_embeddings)
        print(name, "ok", file=sys.stderr)

    expected["reward"] = reward_fixtures(bert_tok)
    roberta_fixture(expected, tmp)
    albert_fixture(expected, tmp)
    roberta_reward_fixture(expected, tmp)
    deberta_reward_fixture(expected, tmp)
    llama_fixtures(expected, tmp)
    gpt_neo_fixtures(expected, tmp)
    decoder_fixtures(expected, tmp)
    generate_fixtures(expected, tmp)

    shutil.rmtree(tmp)
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
