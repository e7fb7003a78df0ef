#!/usr/bin/env python3
"""Reference token ids from HF `tokenizers` for klab's tokenizer test.

Builds an HF tokenizer from a GGUF file's vocabulary and merges (read with the `gguf`
package), configured as HF configures that model (for SmolLM2: Digits(individual_digits) then
ByteLevel, special tokens as AddedTokens), and also with the other pre-tokenizers klab
implements (same vocabulary, their HF pre-tokenizer configuration). It encodes a varied corpus
and writes JSON: {"texts": [...], "results": {pre_name: [[ids...], ...]},
"pieces": {pre_name: [[byte length of each pre-tokenized piece...], ...]}, "seed": N}.

The corpus: hand-written cases (scripts, emoji, whitespace runs, digits, code, special tokens,
contractions), Debian's fortunes and bible-kjv texts when installed, and random strings drawn
from mixed character pools with --seed (the test passes a fresh seed every run).

Exit status 77 means a dependency (tokenizers, gguf) is missing: the caller should skip.
"""
import argparse
import glob
import json
import os
import random
import subprocess
import sys

SKIP = 77

try:
    import gguf
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
except ImportError as e:  # the test reports SKIPPED, never passed
    print(f"tokenizer_reference: missing python dependency: {e}", file=sys.stderr)
    sys.exit(SKIP)

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
          r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
         r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
TEKKEN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|"
          r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|"
          r"\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def split_then_bytes(pattern: str):
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


# GGUF pre-tokenizer name -> (HF pre-tokenizer, BPE ignore_merges)
PRE_TOKENIZERS = {
    "smollm": lambda: (pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ]), False),
    "gpt2": lambda: (pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), False),
    "llama-bpe": lambda: (split_then_bytes(LLAMA3), True),
    "qwen2": lambda: (split_then_bytes(QWEN2), False),
    "tekken": lambda: (split_then_bytes(TEKKEN), False),
}

HAND_WRITTEN = [
    "Hello world",
    "The capital of France is",
    "  leading spaces and trailing spaces   ",
    "trailing newline\n",
    "\n\n\nthree newlines first",
    "tabs\tand\t\tdouble tabs\t",
    "mixed \t \n \r\n whitespace \n\n  \n",
    " ",
    "  ",
    "\n",
    "\t",
    "a\u00a0b\u3000c\u2003d\u200be\u2028f",
    "I'm sure it's what they'd've wanted, isn't it? We'll see. You're right; they've gone.",
    "I'M SURE IT'S WHAT THEY'D WANT. WE'LL SEE. YOU'RE RIGHT, THEY'VE GONE.",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'Ve 'lL 'x ' '' ''' 'sss",
    "rock'n'roll o'clock y'all ma'am 'tis the dog's bone",
    "it\u2019s a curly apostrophe and a long s: it'\u017f it'\u017ft 'K\u212a",
    "1234567890 3.14159 1,000,000 -42 +7 1e-10 0x1F 0b1010 2024-01-31 12:34:56",
    "12345678901234567890123456789012345678901234567890",
    "superscripts \u00b2\u00b3 fractions \u00bd\u00be roman \u2166\u216b arabic-indic \u0663\u0664\u0665",
    "full-width \uff11\uff12\uff13 devanagari digits \u0967\u0968\u0969",
    "Chinese: \u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\u3002\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff01",
    "Japanese: \u3053\u3093\u306b\u3061\u306f\u4e16\u754c\u3002\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a",
    "Korean: \uc548\ub155\ud558\uc138\uc694 \uc138\uacc4",
    "Arabic: \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0643\u064a\u0641 \u062d\u0627\u0644\u0643\u061f",
    "Hebrew: \u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "Russian: \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u041a\u0430\u043a \u0434\u0435\u043b\u0430?",
    "Hindi: \u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e, \u0915\u094d\u092f\u093e \u0939\u093e\u0932 \u0939\u0948?",
    "Greek: \u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5",
    "Thai: \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
    "combining: e\u0301 a\u0308 n\u0303 \u0915\u093f Z\u0351\u036b\u0343\u036a\u0302\u036b",
    "emoji: \U0001F600\U0001F602 \U0001F44D\U0001F3FD \U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 "
    "\U0001F1EB\U0001F1F7 1\uFE0F\u20E3 \u2764\uFE0F \U0001F3F3\uFE0F\u200D\U0001F308",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n",
    "text<|endoftext|>more text<|im_end|><|im_end|> <|im_start|> spaced <file_sep>",
    "broken specials: <|im_start| <|im_end <| |> <|endoftext|",
    "!!!???... ,,, ;;; ::: --- ___ *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}}",
    "\u00ab guillemets \u00bb \u2014 em dash \u2026 ellipsis \u201cquotes\u201d \u00bfqu\u00e9? \u00a1s\u00ed!",
    "control chars: \x01\x02\x07\x1b[31mred\x1b[0m \x7f end",
    "#include <vector>\nint main() {\n  std::vector<int> v{1, 2, 3};\n  for (auto& x : v) x *= 2;\n"
    "  return v.size() > 2 ? 0 : 1;  // done\n}\n",
    "def f(x, *args, **kwargs):\n    \"\"\"Docstring.\"\"\"\n    if x >= 10:\n        return [i ** 2 for i in range(x)]\n"
    "    return {'a': 1, \"b\": None}\n\n\nprint(f(12))\n",
    "{\"name\": \"klab\", \"version\": [0, 1, 0], \"nested\": {\"ok\": true, \"pi\": 3.14}, \"empty\": []}",
    "    indented with four spaces\n\tand a tab\n        eight spaces",
    "URL: https://example.com/path?query=1&x=y#frag user@example.org C:\\Windows\\System32",
    "CamelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case",
]


def read_gguf(path):
    reader = gguf.GGUFReader(path)

    def field(key, default=None):
        f = reader.fields.get(key)
        return default if f is None else f.contents()

    return {
        "tokens": field("tokenizer.ggml.tokens"),
        "types": field("tokenizer.ggml.token_type", []),
        "merges": field("tokenizer.ggml.merges", []),
        "pre": field("tokenizer.ggml.pre", "default"),
    }


def build(vocab_data, pre_name):
    vocab = {}
    for i, t in enumerate(vocab_data["tokens"]):
        vocab.setdefault(t, i)
    merges = [tuple(m.split(" ", 1)) for m in vocab_data["merges"]]
    pre, ignore_merges = PRE_TOKENIZERS[pre_name]()
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    types = vocab_data["types"]
    specials = [AddedToken(t, special=(types[i] == 3), normalized=False)
                for i, t in enumerate(vocab_data["tokens"]) if types and types[i] in (3, 4)]
    tok.add_special_tokens(specials)
    return tok


def fortunes(limit):
    out = []
    for path in sorted(glob.glob("/usr/share/games/fortunes/*")):
        if "." in os.path.basename(path) or os.path.isdir(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                out += [e.strip("\n") for e in f.read().split("\n%\n") if e.strip()]
        except (UnicodeDecodeError, OSError):
            continue
    return out[:limit]


def bible(specs):
    out = []
    for spec in specs:
        try:
            r = subprocess.run(["bible", spec], capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return []
        out += [line for line in r.stdout.splitlines() if line.strip()]
    return out


POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    "      \t\n\r",
    "'''sStTrReEvVmMlLdD",
    "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~",
    "\u00e9\u00e8\u00fc\u00f1\u00e7\u00df\u00c6\u00d8\u00e5\u0142\u017e\u0131\u0130\u017f",
    "\u6211\u7231\u5317\u4eac\u3053\u3093\u306b\u3061\u306f\uc548\ub155\u30ab\u30bf",
    "\u0645\u0631\u062d\u0628\u0627\u05e9\u05dc\u05d5\u05dd\u041f\u0440\u0438\u0432\u0435\u0442\u0928\u092e\u0938\u094d\u0924\u0947",
    "\u0301\u0308\u0303\u093f\u094d\u0e31\u20e3\ufe0f\u200d",
    "\u00a0\u3000\u2003\u2009\u200b\u2028\u2029\u0085\u000b\u000c\u1680\u202f",
    "\u00b2\u00b3\u00bd\u2166\u0663\u0967\uff11\u2460",
    "\U0001F600\U0001F44D\U0001F3FD\U0001F468\U0001F469\U0001F1EB\U0001F1F7\u2764\U0001F308",
    "\u01c5\u02b0\u02b1\u1d2c\u3005\u16ee\u2160",
]
SPECIAL_SNIPPETS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "<file_sep>", "<"]


def random_texts(seed, count):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        weights = [rng.random() ** 3 for _ in POOLS]
        s = []
        for _ in range(rng.randint(1, 60)):
            if rng.random() < 0.02:
                s.append(rng.choice(SPECIAL_SNIPPETS))
                continue
            pool = rng.choices(POOLS, weights)[0]
            s.append(rng.choice(pool) * (1 if rng.random() < 0.85 else rng.randint(2, 6)))
        out.append("".join(s))
    return out


def corpus(seed, random_count):
    texts = list(HAND_WRITTEN)
    fort = fortunes(3000)
    verses = bible(["Gen1:1-Gen10:32", "Ps119:1-Ps119:176", "Mt5:1-Mt7:29", "Rev22:1-Rev22:21"])
    texts += fort + verses
    texts += random_texts(seed, random_count)
    # Long multi-line documents exercise pieces across line boundaries.
    for source in (fort, verses, HAND_WRITTEN):
        for i in range(0, len(source), 200):
            texts.append("\n".join(source[i:i + 200]))
    print(f"tokenizer_reference: {len(texts)} texts ({len(fort)} fortunes, {len(verses)} verses, "
          f"{random_count} random with seed {seed})", file=sys.stderr)
    return texts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="GGUF file with a byte-level BPE vocabulary")
    ap.add_argument("--out", required=True, help="JSON output path")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--random-count", type=int, default=3000)
    ap.add_argument("--pre", nargs="*", default=None,
                    help="pre-tokenizer names (default: the file's own, then all others)")
    args = ap.parse_args()

    data = read_gguf(args.model)
    names = args.pre or [data["pre"]] + [p for p in PRE_TOKENIZERS if p != data["pre"]]
    texts = corpus(args.seed, args.random_count)
    results, pieces = {}, {}
    for name in names:
        if name not in PRE_TOKENIZERS:
            print(f"tokenizer_reference: no HF configuration for pre-tokenizer '{name}'",
                  file=sys.stderr)
            return 1
        tok = build(data, name)
        results[name] = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
        # The pre-tokenizer alone (no special-token splitting), as byte lengths of the pieces:
        # every configuration ends in ByteLevel, which maps each byte to one character.
        pieces[name] = [[len(p) for p, _ in tok.pre_tokenizer.pre_tokenize_str(t)] for t in texts]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"texts": texts, "results": results, "pieces": pieces, "seed": args.seed}, f,
                  ensure_ascii=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
