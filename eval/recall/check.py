#!/usr/bin/env python3
"""Validate the ctxvault recall evaluation set (corpus.jsonl + questions.jsonl).

Standard library only. Prints counts and every violation; exits 1 on any violation.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus.jsonl")
QUESTIONS = os.path.join(HERE, "questions.jsonl")

KINDS = {"fact", "preference", "note", "person", "project", "event", "document"}
TYPES = {"paraphrase", "keyword", "natural"}
MIN_CORPUS = 200
MIN_TOTAL = 320
MIN_PER_TYPE = {"paraphrase": 160, "keyword": 60, "natural": 100}
MAX_BODY = 600

NAMESPACE_RE = re.compile(r"^[a-z0-9._-]+(/[a-z0-9._-]+)*$")
TAG_RE = re.compile(r"^[a-z0-9_-]+$")
CORPUS_ID_RE = re.compile(r"^c\d{3,}$")
QUESTION_ID_RE = re.compile(r"^q\d{3,}$")
TOKEN_RE = re.compile(r"[^\W_]+")  # runs of letters/digits (Unicode aware)

STOPWORDS = set("""
a an the and or but if then so than as of in on at to for from by with without
about into onto over under after before during since until till up down out off
again also too very just only even ever still yet
is are was were be been being am do does did doing done have has had having
will would shall should can could may might must
i me my mine myself we us our ours ourselves you your yours yourself
he him his himself she her hers herself it its itself they them their theirs themselves
this that these those what which who whom whose when where why how whether
there here not no nor any all each every some such own same other another
more most much many few both either neither
anything something everything nothing anyone someone everyone
s t d ll re ve m don doesn didn isn aren wasn weren won wouldn shouldn can't
etc per via vs yes ok
""".split())

SUFFIXES = ["ions", "ings", "ers", "ies", "ied", "ion", "ing", "est",
            "ed", "es", "er", "ly", "s"]


def stem(word):
    """Crude suffix stripper; only meant to catch obvious inflectional overlap."""
    if word.isdigit():
        return word
    w = word
    for suf in SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)]
            if suf in ("ies", "ied"):
                w += "y"
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    return w


def content_stems(text):
    out = set()
    for tok in TOKEN_RE.findall(text.lower()):
        if tok in STOPWORDS:
            continue
        if len(tok) == 1 and not tok.isdigit():
            continue
        out.add(stem(tok))
    return out


def item_text(item):
    parts = [item.get("title") or "", " ".join(item.get("tags") or []), item.get("body") or ""]
    return " ".join(parts)


def load_jsonl(path, violations):
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    violations.append(f"{os.path.basename(path)}:{n}: blank line")
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    violations.append(f"{os.path.basename(path)}:{n}: invalid JSON ({e})")
                    continue
                rows.append((n, obj))
    except OSError as e:
        violations.append(f"cannot read {path}: {e}")
    return rows


def check_corpus(rows, violations):
    items = {}
    for n, obj in rows:
        where = f"corpus.jsonl:{n}"
        if not isinstance(obj, dict):
            violations.append(f"{where}: not a JSON object")
            continue
        keys = set(obj)
        expected = {"id", "namespace", "kind", "title", "tags", "body"}
        if keys != expected:
            violations.append(f"{where}: keys {sorted(keys)} != {sorted(expected)}")
        cid = obj.get("id")
        if not isinstance(cid, str) or not CORPUS_ID_RE.match(cid):
            violations.append(f"{where}: bad id {cid!r}")
            continue
        where = f"corpus {cid}"
        if cid in items:
            violations.append(f"{where}: duplicate id")
        ns = obj.get("namespace")
        if not isinstance(ns, str) or not NAMESPACE_RE.match(ns):
            violations.append(f"{where}: bad namespace {ns!r}")
        if obj.get("kind") not in KINDS:
            violations.append(f"{where}: bad kind {obj.get('kind')!r}")
        title = obj.get("title")
        if title is not None and (not isinstance(title, str) or not title.strip()):
            violations.append(f"{where}: title must be a non-empty string or null")
        tags = obj.get("tags")
        if not isinstance(tags, list):
            violations.append(f"{where}: tags must be a list")
        else:
            for t in tags:
                if not isinstance(t, str) or not TAG_RE.match(t):
                    violations.append(f"{where}: bad tag {t!r}")
            if len(set(map(str, tags))) != len(tags):
                violations.append(f"{where}: duplicate tags")
        body = obj.get("body")
        if not isinstance(body, str) or not body.strip():
            violations.append(f"{where}: body must be a non-empty string")
        elif len(body) > MAX_BODY:
            violations.append(f"{where}: body has {len(body)} characters (max {MAX_BODY})")
        items[cid] = obj
    return items


def check_questions(rows, items, violations):
    seen = set()
    texts = {}
    counts = {t: 0 for t in TYPES}
    answered = set()
    for n, obj in rows:
        where = f"questions.jsonl:{n}"
        if not isinstance(obj, dict):
            violations.append(f"{where}: not a JSON object")
            continue
        keys = set(obj)
        expected = {"id", "type", "question", "answers"}
        if keys != expected:
            violations.append(f"{where}: keys {sorted(keys)} != {sorted(expected)}")
        qid = obj.get("id")
        if not isinstance(qid, str) or not QUESTION_ID_RE.match(qid):
            violations.append(f"{where}: bad id {qid!r}")
            continue
        where = f"question {qid}"
        if qid in seen:
            violations.append(f"{where}: duplicate id")
        seen.add(qid)
        qtype = obj.get("type")
        if qtype not in TYPES:
            violations.append(f"{where}: bad type {qtype!r}")
        else:
            counts[qtype] += 1
        text = obj.get("question")
        if not isinstance(text, str) or not text.strip():
            violations.append(f"{where}: question must be a non-empty string")
            continue
        norm = " ".join(text.lower().split())
        if norm in texts:
            violations.append(f"{where}: same question text as {texts[norm]}")
        texts[norm] = qid
        answers = obj.get("answers")
        if not isinstance(answers, list) or not (1 <= len(answers) <= 3):
            violations.append(f"{where}: answers must be a list of 1 to 3 ids")
            continue
        if len(set(answers)) != len(answers):
            violations.append(f"{where}: duplicate answer ids")
        missing = [a for a in answers if a not in items]
        if missing:
            violations.append(f"{where}: unknown answer ids {missing}")
            continue
        answered.update(answers)
        q_stems = content_stems(text)
        if not q_stems:
            violations.append(f"{where}: question has no content words")
        if qtype == "paraphrase":
            for a in answers:
                shared = q_stems & content_stems(item_text(items[a]))
                if shared:
                    violations.append(
                        f"{where}: paraphrase shares {sorted(shared)} with {a}: {text!r}")
        elif qtype == "keyword":
            for a in answers:
                if not (q_stems & content_stems(item_text(items[a]))):
                    violations.append(
                        f"{where}: keyword question shares no content word with {a}: {text!r}")
    return counts, answered


def main():
    violations = []
    items = check_corpus(load_jsonl(CORPUS, violations), violations)
    counts, answered = check_questions(load_jsonl(QUESTIONS, violations), items, violations)
    total = sum(counts.values())

    if len(items) < MIN_CORPUS:
        violations.append(f"corpus has {len(items)} items (min {MIN_CORPUS})")
    if total < MIN_TOTAL:
        violations.append(f"{total} questions (min {MIN_TOTAL})")
    for t, m in MIN_PER_TYPE.items():
        if counts[t] < m:
            violations.append(f"{counts[t]} {t} questions (min {m})")

    print(f"corpus items:        {len(items)}")
    print(f"questions:           {total}")
    for t in ("paraphrase", "keyword", "natural"):
        print(f"  {t:<18} {counts[t]}")
    print(f"items used as answer: {len(answered)}")
    print(f"violations:          {len(violations)}")
    for v in violations:
        print("  " + v)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
