"""Analyzer for BM25: jieba-compatible Chinese segmentation (rjieba) plus English and numbers.

- Chinese: rjieba (jieba-rs) segments exactly like jieba's default mode at ~30x the speed.
- English: lower-cased, Snowball-stemmed ("running" -> "run"), stop words dropped.
- Numbers: thousands separators removed ("1,577.00" -> "1577.00") so a number is one token;
  dates split into their numeric parts ("2023年7月28日" -> 2023 年 7 月 28 日).
- Punctuation and whitespace tokens are dropped, and currency/percent signs stripped ("12.5%" -> 12.5).
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache

import rjieba

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_HAS_WORD = re.compile(r"\w")
_ASCII_ALPHA = re.compile(r"^[a-z][a-z'-]*$")

ZH_STOPWORDS = set(
    "的 了 和 与 及 或 是 在 也 就 都 而 着 之 其 这 那 这个 那个 这些 那些 一个 一些 为 对 把 被 让 从 向 于 "
    "以 并 等 则 即 又 但 但是 如果 因为 所以 而且 还 还是 已 已经 吗 呢 吧 啊 呀 么 嘛 哦 "
    "什么 为什么 怎么 怎样 如何 哪 哪些 哪个 哪里 多少 是否 请问 "
    "我 你 他 她 它 我们 你们 他们 她们 它们 自己 有 没有 个 中 上 下".split()
)
EN_STOPWORDS = set(
    "a an the and or but if then else of to in on at by for with from as into about over is are was were "
    "be been being am do does did have has had it its this that these those there here which who whom whose "
    "what when where why how not no so than too very can could should would may might will shall i you he she "
    "we they me him her us them my your his our their".split()
)
STOPWORDS = ZH_STOPWORDS | EN_STOPWORDS


class Analyzer:
    name = "rjieba-zh-en"

    def __init__(self, stopwords: set[str] = STOPWORDS, stem: bool = True):
        self.stopwords = stopwords
        self._stem = _stemmer() if stem else None
        self._cache: dict[str, str | None] = {}

    @cached_property
    def version(self) -> str:
        """What the terms depend on; read once: package metadata costs 0.3 ms, and every search names its BM25
        index by it."""
        from importlib.metadata import version

        return f"rjieba {version('rjieba')}; stem={'snowball-en' if self._stem else 'none'}"

    def tokenize(self, text: str) -> list[str]:
        raw = rjieba.cut(_THOUSANDS.sub("", text))
        cache = self._cache
        for tok in set(raw).difference(cache):  # set operations and map() keep the hot loop in C
            cache[tok] = self._term(tok)
        out = [t for t in map(cache.__getitem__, raw) if t is not None]
        if len(cache) > 500_000:  # bound memory on huge corpora
            cache.clear()
        return out

    def _term(self, raw: str) -> str | None:
        t = raw.strip().strip("%$¥€£‰").lower()
        if not t or t in self.stopwords or not _HAS_WORD.search(t):
            return None
        if self._stem is not None and _ASCII_ALPHA.match(t):
            t = self._stem.stemWord(t)
        return t


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` (punctuation and spaces excluded)."""
    return [(s, e) for w, s, e in rjieba.tokenize(text) if _HAS_WORD.search(w)]
