#!/usr/bin/env python3
"""Reference side of the tokenizer.json tests: small tokenizers of every supported flavour,
trained with the `tokenizers` package, and how that package encodes a set of texts.

  hf_tokenizer_reference.py OUT_DIR

Writes OUT_DIR/<flavour>/tokenizer.json for gpt2 (ByteLevel), smollm (Digits + ByteLevel),
llama3 and qwen2 (Split regex + ByteLevel) and spm (Metaspace + byte_fallback, Llama-2 style
vocabulary with <unk>, <s>, </s> and the 256 <0xNN> byte tokens), and OUT_DIR/cases.json:
{flavour: [{"text", "ids"}]} with ids from encode(text, add_special_tokens=False).
Exit status 77 when `tokenizers` is missing.
"""
import json
import pathlib
import sys

try:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
except ImportError:
    sys.exit(77)

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
          r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
         r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's what they'll say, isn't it?",
    "Numbers: 1234567, 3.14159 and 2024-11-25; prices $19.99!",
    "Caf\u00e9 na\u00efve \u00fcber \u65e5\u672c\u8a9e \U0001F600 emoji and accents.",
    "def f(x):\n    return x * 2  # code\n\n\ttabs\r\nend",
    "HELLO World hello WORLD HeLLo",
] * 6
TEXTS = [
    "Hello world",
    " leading space and  double  spaces ",
    "It's 1234567 o'clock, they'll SEE",
    "tabs\tand\nnew\n\nlines\r\n",
    "Caf\u00e9 \u65e5\u672c \U0001F600!",
    "x",
    "",
    "unseen words: zyxwvut qqq \u00df\u00df",
]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def byte_level(flavour: str) -> Tokenizer:
    tok = Tokenizer(models.BPE(ignore_merges=flavour == "llama3"))
    if flavour == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif flavour == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    else:
        regex = LLAMA3 if flavour == "llama3" else QWEN2
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def spm() -> Tokenizer:
    """A Llama-2 style tokenizer.json: byte tokens in the vocabulary, byte_fallback."""
    base = Tokenizer(models.BPE())
    base.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always",
                                                  split=False)
    base.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=200, show_progress=False))
    trained = json.loads(base.to_str())["model"]
    head = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    vocab = {t: i for i, t in enumerate(head)}
    for t, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(t, len(vocab))
    doc = json.loads(base.to_str())
    doc["added_tokens"] = [{"id": i, "content": t, "single_word": False, "lstrip": False,
                            "rstrip": False, "normalized": False, "special": True}
                           for i, t in enumerate(head[:3])]
    doc["model"] = {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                    "continuing_subword_prefix": None, "end_of_word_suffix": None,
                    "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                    "vocab": vocab, "merges": trained["merges"]}
    doc["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    return Tokenizer.from_str(json.dumps(doc))


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    cases = {}
    for flavour in ["gpt2", "smollm", "llama3", "qwen2", "spm"]:
        tok = spm() if flavour == "spm" else byte_level(flavour)
        (out / flavour).mkdir(parents=True, exist_ok=True)
        tok.save(str(out / flavour / "tokenizer.json"))
        texts = TEXTS + ([] if flavour == "spm" else ["a<|im_start|>user\nhi<|im_end|>"])
        cases[flavour] = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids}
                          for t in texts]
    (out / "cases.json").write_text(json.dumps(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
