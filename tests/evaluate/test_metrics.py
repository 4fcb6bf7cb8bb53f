"""Metrics against values worked out by hand, and parity with rouge-score, SQuAD and CMRC2018."""

from __future__ import annotations

import math
import re
import string
from collections import Counter

import pytest

from docrag.evaluate.metrics import (
    answer_recall_at_k,
    exact_match,
    f1,
    hit_at_k,
    ndcg_at_k,
    numeric_match,
    recall_at_k,
    reciprocal_rank,
    rouge,
    rouge_l,
    rouge_n,
    rouge_tokens,
    support,
    tokens,
)

# ---------------------------------------------------------------- retrieval


def test_hit_at_k_counts_each_key_once():
    ranked = ["a", "a", "b", "c"]  # distinct keys: a, b, c
    assert hit_at_k(ranked, {"c"}, 2) == 0.0  # top-2 = a, b
    assert hit_at_k(ranked, {"c"}, 3) == 1.0  # top-3 = a, b, c (without dedup it would be a, a, b)
    assert hit_at_k(ranked, {"c"}, 10) == 1.0  # k beyond the list
    assert hit_at_k(ranked, {"a", "z"}, 1) == 1.0


def test_hit_at_k_edge_cases():
    assert hit_at_k(["a"], set(), 5) == 0.0
    assert hit_at_k([], {"a"}, 5) == 0.0
    assert hit_at_k(["a"], {"a"}, 0) == 0.0


def test_recall_at_k():
    ranked = ["d1", "d1", "d2", "d3", "d1", "d4"]  # distinct: d1, d2, d3, d4
    gold = {"d2", "d4", "d9"}
    assert recall_at_k(ranked, gold, 1) == 0.0  # {d1} ∩ gold = {}
    assert recall_at_k(ranked, gold, 2) == pytest.approx(1 / 3)  # {d1, d2} ∩ gold = {d2}: 1/3
    assert recall_at_k(ranked, gold, 3) == pytest.approx(1 / 3)  # without dedup top-3 = d1, d1, d2: same
    assert recall_at_k(ranked, gold, 4) == pytest.approx(2 / 3)  # {d2, d4}: 2/3 (top-4 raw would miss d4)
    assert recall_at_k(ranked, gold, 100) == pytest.approx(2 / 3)  # d9 never retrieved
    assert recall_at_k(ranked, set(), 4) == 0.0


def test_reciprocal_rank():
    ranked = ["a", "a", "b", "g", "g"]  # distinct: a, b, g -> g at rank 3
    assert reciprocal_rank(ranked, {"g"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"g"}, 3) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"g"}, 2) == 0.0  # cut before g
    assert reciprocal_rank(ranked, {"g"}, 50) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"a", "g"}) == 1.0  # first gold key counts
    assert reciprocal_rank(ranked, {"z"}) == 0.0
    assert reciprocal_rank(ranked, set()) == 0.0
    assert reciprocal_rank([], {"a"}) == 0.0


def test_ndcg_at_k():
    ranked = ["x", "g1", "x", "y", "g2"]  # distinct: x, g1, y, g2 (g2 at rank 4, not 5)
    gold = {"g1", "g2", "g3"}
    # k=3: DCG = 1/log2(2+1) = 0.63093; IDCG (3 relevant at the top) = 1/log2(2) + 1/log2(3) + 1/log2(4)
    #      = 1 + 0.63093 + 0.5 = 2.13093; nDCG = 0.63093 / 2.13093 = 0.29608
    assert ndcg_at_k(ranked, gold, 3) == pytest.approx(0.6309297535714575 / 2.1309297535714575)
    assert ndcg_at_k(ranked, gold, 3) == pytest.approx(0.29608, abs=1e-5)
    # k=5: DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161; IDCG = 2.13093 (min(|gold|, k) = 3)
    #      nDCG = 1.06161 / 2.13093 = 0.49819
    assert ndcg_at_k(ranked, gold, 5) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / 2.1309297535714575)
    assert ndcg_at_k(ranked, gold, 5) == pytest.approx(0.49819, abs=1e-5)
    # k=1: top-1 = x, DCG = 0
    assert ndcg_at_k(ranked, gold, 1) == 0.0


def test_ndcg_ideal_is_capped_at_k_and_at_gold_size():
    # one gold key at rank 2: DCG = 1/log2(3) = 0.63093, IDCG = 1/log2(2) = 1 -> 0.63093
    assert ndcg_at_k(["a", "g"], {"g"}, 10) == pytest.approx(0.6309297535714575)
    # perfect ranking of 2 gold keys with k=1: DCG = 1, IDCG = min(2, 1) = 1 key -> 1.0
    assert ndcg_at_k(["g1", "g2"], {"g1", "g2"}, 1) == 1.0
    assert ndcg_at_k(["g1", "g1", "g2"], {"g1", "g2"}, 2) == pytest.approx(1.0)  # duplicates don't cost rank
    assert ndcg_at_k(["a"], set(), 5) == 0.0
    assert ndcg_at_k([], {"a"}, 5) == 0.0


def test_answer_recall_at_k_normalises_width_case_space_and_thousands():
    texts = ["营业收入为人民币 47,295.60 万元", "Net cash was 1,577 MILLION"]
    assert answer_recall_at_k(texts, ["47295.60万元"], 1) == 1.0
    assert answer_recall_at_k(texts, ["１５７７ million"], 1) == 0.0  # only in the second text
    assert answer_recall_at_k(texts, ["１５７７ million"], 2) == 1.0  # full-width digits, case, spaces
    assert answer_recall_at_k(texts, ["1577million"], 5) == 1.0  # k beyond the list
    assert answer_recall_at_k(texts, ["nope", "NET CASH"], 2) == 1.0  # any answer


def test_answer_recall_at_k_edge_cases():
    assert answer_recall_at_k(["in 2019,2020 and"], ["20192020"], 1) == 0.0  # a list, not a thousands separator
    assert answer_recall_at_k(["anything"], ["", "  "], 1) == 0.0  # empty answers match nothing
    assert answer_recall_at_k([], ["a"], 3) == 0.0
    assert answer_recall_at_k(["abc"], ["abc"], 0) == 0.0


# ---------------------------------------------------------------- tokenisation


def squad_normalize_answer(s: str) -> str:
    """SQuAD v1.1 evaluate-v1.1.py normalize_answer, verbatim."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


CMRC_SP_CHAR = ["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？", "！", "“", "”",
                "；", "’", "《", "》", "……", "·", "、", "「", "」", "（", "）", "－", "～", "『", "』"]


def cmrc_mixed_segmentation(in_str: str) -> list[str]:
    """CMRC2018 cmrc2018_evaluate.py mixed_segmentation(rm_punc=True), ported to Python 3.

    nltk.word_tokenize is replaced by str.split, which agrees on the texts below (their Latin runs
    hold no punctuation outside the script's own sp_char list).
    """
    segs_out, temp_str = [], ""
    for char in in_str.lower().strip():
        if char in CMRC_SP_CHAR:
            continue
        if re.search(r"[\u4e00-\u9fa5]", char):
            segs_out.extend(temp_str.split())
            temp_str = ""
            segs_out.append(char)
        else:
            temp_str += char
    segs_out.extend(temp_str.split())
    return segs_out


@pytest.mark.parametrize("text", [
    "The Eiffel Tower, in Paris!",
    "an apple a day keeps THE doctor away",
    "U.S. President's \"state-of-the-art\" plan (2019)",
    "Theory of the atoms; anthem; Thea",
    "  $1,577.00   million...  ",
    "",
])
def test_tokens_match_squad_on_english(text):
    assert " ".join(tokens(text)) == squad_normalize_answer(text)


def test_tokens_english_by_hand():
    assert tokens("The Eiffel Tower, in Paris!") == ["eiffel", "tower", "in", "paris"]
    assert tokens("U.S. an apple") == ["us", "apple"]  # punctuation deleted, not split on
    assert tokens("“Curly” quotes") == ["curly", "quotes"]  # non-ASCII punctuation goes too


@pytest.mark.parametrize("text", [
    "《红楼梦》的作者是曹雪芹。",
    "GPT-4 模型在2023年发布，参数量未公开！",
    "中国人民解放军建军96周年招待会在柏林举行",
    "RoPE 旋转位置编码：外推性更好？",
    "BERT-base 和 RoBERTa 都是 Transformer 编码器",
])
def test_tokens_match_cmrc2018_segmentation(text):
    assert tokens(text) == cmrc_mixed_segmentation(text)


def test_tokens_mixed_and_full_width_by_hand():
    assert tokens("GPT-4 模型，好！") == ["gpt4", "模", "型", "好"]
    assert tokens("ＧＰＴ４模型") == ["gpt4", "模", "型"]  # full-width letters and digits
    assert tokens("the 模型 is a model") == ["模", "型", "is", "model"]  # articles dropped in mixed text


def test_rouge_tokens_by_hand():
    assert rouge_tokens("GPT-4 模型，好！") == ["gpt", "4", "模", "型", "好"]
    assert rouge_tokens("The U.S. (1,577)") == ["the", "u", "s", "1", "577"]  # like rouge-score: articles kept


# ---------------------------------------------------------------- EM and F1


def test_exact_match_squad_style():
    assert exact_match("The Eiffel Tower", ["eiffel tower!"]) == 1.0  # article, case, punctuation
    assert exact_match("Eiffel Tower in Paris", ["Eiffel Tower"]) == 0.0
    assert exact_match("Paris", ["London", "paris."]) == 1.0  # any answer
    assert exact_match("Paris", []) == 0.0


def test_exact_match_chinese():
    assert exact_match("《红楼梦》", ["红楼梦"]) == 1.0
    assert exact_match("曹雪芹。", ["作者曹雪芹"]) == 0.0
    assert exact_match("ＧＰＴ－４", ["gpt-4"]) == 1.0


def test_f1_squad_style_by_hand():
    # pred [eiffel, tower, in, paris], gold [eiffel, tower]: common 2, P = 2/4, R = 2/2, F = 2*.5*1/1.5 = 2/3
    assert f1("the Eiffel Tower in Paris", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    # best answer: [paris, france] -> common 1, P = 1/1, R = 1/2, F = 2/3 (London gives 0)
    assert f1("Paris", ["London", "paris, France"]) == pytest.approx(2 / 3)
    # multisets: pred [dog, dog, dog], gold [dog, cat]: common min(3, 1) = 1, P = 1/3, R = 1/2,
    # F = 2 * (1/6) / (5/6) = 0.4
    assert f1("dog dog dog", ["dog cat"]) == pytest.approx(0.4)
    assert f1("Paris", ["London"]) == 0.0


def test_f1_edge_cases():
    assert f1("the", ["a"]) == 1.0  # both normalise to nothing: they agree (SQuAD v2 convention)
    assert exact_match("the", ["a"]) == 1.0
    assert f1("", ["Paris"]) == 0.0
    assert f1("Paris", [""]) == 0.0
    assert f1("Paris", []) == 0.0


def test_f1_chinese_and_mixed_by_hand():
    # pred [曹, 雪, 芹], gold [作, 者, 是, 曹, 雪, 芹]: common 3, P = 1, R = 1/2, F = 2/3
    assert f1("曹雪芹", ["作者是曹雪芹"]) == pytest.approx(2 / 3)
    # pred [gpt4, 模, 型], gold [gpt4, 模, 型, 的, 能, 力]: common 3, P = 1, R = 1/2, F = 2/3
    assert f1("GPT-4 模型", ["gpt4模型的能力"]) == pytest.approx(2 / 3)


def reference_f1(pred: list[str], gold: list[str]) -> float:
    """SQuAD's f1_score over given tokens."""
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    p, r = same / len(pred), same / len(gold)
    return 2 * p * r / (p + r)


CHINESE_PAIRS = [
    ("曹雪芹", "《红楼梦》的作者是曹雪芹。"),
    ("GPT-4 模型在2023年发布", "GPT-4 模型于 2023 年 3 月发布"),
    ("旋转位置编码让注意力只依赖相对位置", "RoPE 使注意力得分只依赖于相对位置"),
    ("柏林", "招待会在德国柏林举行"),
    ("BERT-base 是编码器", "BERT-base 和 RoBERTa 都是 Transformer 编码器"),
    ("模型模型模型", "模型很好"),
]


@pytest.mark.parametrize("prediction, reference", CHINESE_PAIRS)
def test_f1_matches_cmrc2018_segmentation(prediction, reference):
    expected = reference_f1(cmrc_mixed_segmentation(prediction), cmrc_mixed_segmentation(reference))
    assert f1(prediction, [reference]) == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------- ROUGE


def test_rouge_english_by_hand():
    pred, ref = "the cat sat on the mat", "The cat lay on the mat."
    # unigrams: 6 each, overlap the x2, cat, on, mat = 5 -> P = R = F = 5/6
    assert rouge_n(pred, ref, 1) == pytest.approx((5 / 6, 5 / 6, 5 / 6))
    # bigrams: 5 each, overlap (the cat), (on the), (the mat) = 3 -> 3/5
    assert rouge_n(pred, ref, 2) == pytest.approx((0.6, 0.6, 0.6))
    # LCS: the cat on the mat = 5 -> 5/6
    assert rouge_l(pred, ref) == pytest.approx((5 / 6, 5 / 6, 5 / 6))


def test_rouge_unequal_lengths_by_hand():
    pred, ref = "a b c d", "a c"
    # unigrams: overlap a, c = 2; P = 2/4, R = 2/2, F = 2 * .5 * 1 / 1.5 = 2/3
    assert rouge_n(pred, ref, 1) == pytest.approx((0.5, 1.0, 2 / 3))
    # bigrams: pred (a b), (b c), (c d); ref (a c): overlap 0
    assert rouge_n(pred, ref, 2) == (0.0, 0.0, 0.0)
    # LCS a c = 2: P = 2/4, R = 2/2
    assert rouge_l(pred, ref) == pytest.approx((0.5, 1.0, 2 / 3))


def test_rouge_chinese_by_hand():
    pred, ref = "模型很好", "模型不好"
    # unigrams 模 型 很 好 / 模 型 不 好: overlap 3 of 4 -> 0.75
    assert rouge_n(pred, ref, 1) == pytest.approx((0.75, 0.75, 0.75))
    # bigrams 模型 型很 很好 / 模型 型不 不好: overlap 1 of 3
    assert rouge_n(pred, ref, 2) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # LCS 模 型 好 = 3 -> 0.75
    assert rouge_l(pred, ref) == pytest.approx((0.75, 0.75, 0.75))


def test_rouge_edge_cases():
    assert rouge_n("", "cat", 1) == (0.0, 0.0, 0.0)
    assert rouge_n("cat", "cat", 2) == (0.0, 0.0, 0.0)  # n longer than the texts
    assert rouge_l("", "cat") == (0.0, 0.0, 0.0)
    assert rouge_l("!!!", "???") == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        rouge_n("cat", "cat", 0)
    assert rouge("cat", []) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


def test_rouge_takes_best_answer_per_measure():
    # vs "a b": rouge1 F = 1 (P = R = 1), rouge2 F = 1, rougeL F = 1
    assert rouge("a b", ["x y z", "a b"]) == pytest.approx({"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0})
    # "b a" vs "a b x": r1 overlap 2, P = 1, R = 2/3, F = 0.8; r2 0; LCS 1: P = 1/2, R = 1/3, F = 0.4
    # "b a" vs "b a": all 1 -> max is 1 for every measure
    scores = rouge("b a", ["a b x", "b a"])
    assert scores == pytest.approx({"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0})
    scores = rouge("b a", ["a b x"])
    assert scores == pytest.approx({"rouge1": 0.8, "rouge2": 0.0, "rougeL": 0.4})


ENGLISH_PAIRS = [
    ("The cat sat on the mat.", "The cat lay on the mat."),
    ("the quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log."),
    ("Revenue rose 12.5% to $1,577 million in 2023.", "In 2023, revenue grew by 12.5 percent to $1.577 billion."),
    ("Paris", "Paris is the capital of France."),
    ("It is Paris, France!", "paris"),
    ("", "Something to say"),
    ("Something to say", ""),
    ("!!!", "..."),
    ("buffalo buffalo buffalo buffalo buffalo", "Buffalo buffalo Buffalo buffalo buffalo buffalo Buffalo buffalo"),
    ("the the the the", "the cat the dog the end"),
    ("A B C D E F G", "G F E D C B A"),
    ("Running runners run quickly", "The runner ran quick runs"),
    ("Don't stop believing; hold on to that feeling.", "Do not stop believing, hold on to the feeling!"),
    ("state-of-the-art models are state of the art", "State of the art models: state-of-the-art."),
    ("Apollo 11 landed on the Moon on July 20, 1969.", "On 20 July 1969, Apollo 11 landed on the Moon."),
    ("GPT-4 was released in March 2023", "OpenAI released GPT-4 on March 14, 2023"),
    ("e-mail me at john.doe@example.com ASAP", "Email John Doe at john doe example com as soon as possible"),
    ("The answer is 42", "42"),
    ("42", "The answer is forty-two (42)."),
    ("The U.S.A. and the U.K. signed", "the USA and the UK signed a treaty"),
    ("Version 3.11.4 fixes bug #1234", "Bug 1234 is fixed in version 3.11.4"),
    ("x y x y x y", "y x y x"),
    ("one two three four five six seven eight nine ten", "ten nine eight seven six five four three two one"),
    ("one two three four five six seven eight nine ten", "one three five seven nine"),
    ("The mitochondria is the powerhouse of the cell", "Mitochondria are the powerhouses of cells"),
    ("He said: \"No!\" -- and left.", "he said no and he left"),
    ("CamelCaseWords and snake_case_words", "camel case words and snake case words"),
    ("Tabs\tand\nnewlines   and spaces", "tabs and newlines and spaces"),
    ("The the THE tHe", "the"),
    ("to be or not to be that is the question", "to be or not to be"),
    ("In 1066, William conquered England.", "William the Conqueror conquered England in 1066"),
    ("$100 + $200 = $300", "100 plus 200 equals 300"),
    ("abc abc abd abd abc", "abd abc abd abc abc abc"),
    ("Café crème brûlée", "cafe creme brulee"),
]


@pytest.mark.parametrize("prediction, reference", ENGLISH_PAIRS)
def test_rouge_matches_rouge_score_on_english(prediction, reference):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    theirs = scorer.score(reference, prediction)  # rouge-score takes (target, prediction)
    for ours, name in [(rouge_n(prediction, reference, 1), "rouge1"), (rouge_n(prediction, reference, 2), "rouge2"),
                       (rouge_l(prediction, reference), "rougeL")]:
        expected = (theirs[name].precision, theirs[name].recall, theirs[name].fmeasure)
        assert ours == pytest.approx(expected, abs=1e-9, rel=0), name


def test_rouge_max_over_answers_matches_rouge_score_multi():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    for prediction, _ in ENGLISH_PAIRS[:10]:
        answers = [ref for _, ref in ENGLISH_PAIRS[10:14]] + ["the cat sat"]
        theirs = scorer.score_multi(answers, prediction)
        ours = rouge(prediction, answers)
        assert ours == pytest.approx({k: v.fmeasure for k, v in theirs.items()}, abs=1e-9, rel=0)


class CharacterTokenizer:
    """Reference CJK tokenizer for rouge-score: one token per Han character, [a-z0-9] runs as words."""

    def tokenize(self, text: str) -> list[str]:
        out, run = [], ""
        for ch in text.lower():
            if "a" <= ch <= "z" or "0" <= ch <= "9":
                run += ch
                continue
            if run:
                out.append(run)
                run = ""
            if "\u4e00" <= ch <= "\u9fff":
                out.append(ch)
        return out + [run] if run else out


@pytest.mark.parametrize("prediction, reference", CHINESE_PAIRS)
def test_rouge_matches_rouge_score_with_character_tokenizer_on_chinese(prediction, reference):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=CharacterTokenizer())
    theirs = scorer.score(reference, prediction)
    assert rouge_tokens(prediction) == CharacterTokenizer().tokenize(prediction)
    for ours, name in [(rouge_n(prediction, reference, 1), "rouge1"), (rouge_n(prediction, reference, 2), "rouge2"),
                       (rouge_l(prediction, reference), "rougeL")]:
        expected = (theirs[name].precision, theirs[name].recall, theirs[name].fmeasure)
        assert ours == pytest.approx(expected, abs=1e-9, rel=0), name


# ---------------------------------------------------------------- numeric match


@pytest.mark.parametrize("prediction, answer", [
    ("$1577.00", "1,577 million"),  # unit stated in the question, omitted in the prediction
    ("1,577 million", "$1.577 billion"),  # 1577 * 1e6 = 1.577 * 1e9
    ("$1577.00", "1577"),
    ("It was US$1.5B.", "1,500 million"),
    ("1,526.45万元", "1526.45万元"),
    ("47295.60 万元", "人民币 47,295.60 万元"),
    ("3亿元", "30000万"),  # 3e8 = 30000 * 1e4
    ("3 亿元", "300000000"),
    ("12.5%", "12.5 percent"),
    ("(1,577)", "-1577"),  # accounting negative
    ("净利润为-1,577万元", "(1,577)"),
    ("１５７７", "1577"),  # full-width digits
    ("about 2,000 thousand", "2 million"),  # 2000 * 1e3 = 2 * 1e6
    ("The total is 1,583.", "1577"),  # |1583 - 1577| = 6 <= 0.01 * 1583
])
def test_numeric_match_positive(prediction, answer):
    assert numeric_match(prediction, [answer]) == 1.0


@pytest.mark.parametrize("prediction, answer", [
    ("$1,600", "$1577.00"),  # |1600 - 1577| = 23 > 0.01 * 1600 = 16
    ("(1,577)", "1577"),  # -1577 vs 1577
    ("-1577", "1577"),
    ("12.5%", "13%"),
    ("GPT-4", "-4"),  # a hyphen, not a minus
    ("2019-2020", "-2020"),
    ("revenue grew", "1577"),  # no number in the prediction
    ("1577", "no number here"),  # no number in the answer
    ("1,577 million", "1.577"),  # neither 1577 nor 1.577e9 equals 1.577
])
def test_numeric_match_negative(prediction, answer):
    assert numeric_match(prediction, [answer]) == 0.0


def test_numeric_match_any_answer_and_tolerance():
    assert numeric_match("1577", ["none", "about 1577"]) == 1.0
    assert numeric_match("1577", []) == 0.0
    # |1600 - 1577| = 23 <= 0.02 * 1600 = 32
    assert numeric_match("1600", ["1577"], rel_tol=0.02) == 1.0
    assert numeric_match("0", ["0.0"]) == 1.0


# ---------------------------------------------------------------- support


def test_support_by_hand():
    passage = "这个模型很好用。Revenue rose 5% in 2023."
    assert support("模型很好", passage) == 1.0  # bigrams 模型 型很 很好 all in the passage
    assert support("模型不好", passage) == pytest.approx(1 / 3)  # 模型 found; 型不, 不好 not
    assert support("Revenue rose sharply", passage) == pytest.approx(0.5)  # (revenue rose) yes, (rose sharply) no
    assert support("这个模型很好用。", passage) == 1.0  # copied


def test_support_edge_cases():
    assert support("", "anything") == 0.0
    assert support("。！", "anything") == 0.0
    assert support("2023", "in 2023") == 1.0  # one token: judged on the token itself
    assert support("2024", "in 2023") == 0.0
    assert support("好好好", "好好") == 1.0  # both (好, 好) bigrams occur
    assert support("模型很好", "") == 0.0
