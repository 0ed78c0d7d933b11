"""Writes train.jsonl and validation.jsonl: a synthetic prompt/completion smoke-test set for causal-LM recipes.

Each example asks for a short phrase in upper case ({"prompt": "Uppercase: green apple =>", "completion": " GREEN APPLE"}).
It is made up, tiny and easy on purpose: it shows that the completion-only loss learns something on a small random
Llama within a minute, nothing more. Run: python3 make.py (deterministic: seed 20261205).
"""
import json
import random

WORDS = ("apple bread cloud dance eagle field grape house island jacket kite lemon meadow night ocean pepper queen "
         "river stone table umbrella valley window yellow zebra green quiet bright small happy").split()


def phrases(rng, count):
    seen = set()
    while len(seen) < count:
        seen.add(" ".join(rng.sample(WORDS, rng.choice((1, 2, 3)))))
    return sorted(seen)


def main():
    rng = random.Random(20261205)
    all_phrases = phrases(rng, 240)
    rng.shuffle(all_phrases)
    splits = {"train.jsonl": all_phrases[:200], "validation.jsonl": all_phrases[200:]}
    for name, items in splits.items():
        with open(name, "w", encoding="utf-8", newline="\n") as out:
            for phrase in items:
                out.write(json.dumps({"prompt": f"Uppercase: {phrase} =>", "completion": f" {phrase.upper()}"}) + "\n")
        print(name, len(items))


if __name__ == "__main__":
    main()
