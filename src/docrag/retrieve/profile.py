"""What a corpus is, read from a sample of its chunks once per store generation: which bundled glossaries suit it.

A glossary helps where the documents use the vocabulary it was written for (``finance-en``: the statements and line
items of 10-Ks; ``finance-zh``: the accounting and listing terms of Chinese prospectuses and annual reports), and
only adds noise elsewhere (news, encyclopedia paragraphs). The profile is the share of sampled chunks that hold a
term of a domain's vocabulary; ``retrieve.glossaries = ["auto"]`` (the default) loads the glossary of each domain
in ``AUTO`` whose share reaches ``SHARE``. The shares measured on the dev sets are in docs/benchmarks.md ("choices
made per question and per corpus").
"""

from __future__ import annotations

import re
from typing import Iterable

SAMPLE = 2000  # chunks read, evenly spread over the ids: a profile costs the same on 1,000 or 100,000 chunks
SHARE = 0.10  # a domain's glossary is loaded when this share of the sampled chunks speaks its vocabulary
# Words that financial statements and filings are made of, not those any news article about a company uses
# ("revenue", "profit", "shares" are not here)
_FINANCE_EN = re.compile(
    r"\b(?:net income|net loss|total assets|total liabilities|stockholders'? equity|shareholders'? equity|"
    r"operating income|gross (?:profit|margin)|cash flows?|cash equivalents|balance sheets?|statements? of "
    r"(?:operations|income|earnings|cash flows|financial position)|earnings per share|fiscal (?:year|quarter)|"
    r"depreciation|amortization|accounts receivable|accounts payable|inventor(?:y|ies)|retained earnings|"
    r"form 10-[kq]|goodwill|dividends?|capital expenditures?|working capital|diluted)\b", re.I)
_FINANCE_ZH = re.compile(
    r"招股说明书|招股意向书|发行人|报告期|营业收入|营业成本|净利润|利润总额|资产负债|所有者权益|股东权益|现金流量|"
    r"应收账款|应付账款|存货|固定资产|无形资产|募集资金|会计师|审计|毛利率|每股收益|财务报表|年度报告|保荐")
DOMAINS = {"finance-en": _FINANCE_EN, "finance-zh": _FINANCE_ZH}
# the glossaries "auto" may choose: those measured to help on a corpus of their domain. finance-zh changed nothing
# on the prospectus set alone and cost a question's first rank with the other defaults: it stays opt-in
AUTO = ("finance-en",)


def corpus_profile(texts: Iterable[str]) -> dict[str, float]:
    """Per bundled glossary, the share of ``texts`` holding a term of its domain."""
    counts = dict.fromkeys(DOMAINS, 0)
    n = 0
    for text in texts:
        n += 1
        for name, vocabulary in DOMAINS.items():
            counts[name] += bool(vocabulary.search(text))
    return {name: round(c / n, 4) if n else 0.0 for name, c in counts.items()}


def glossaries_for(profile: dict[str, float]) -> list[str]:
    """The glossaries "auto" may choose whose domain's share reaches SHARE."""
    return [name for name, share in profile.items() if name in AUTO and share >= SHARE]


def resolve(names: list[str], profile) -> list[str]:
    """``names`` with "auto" replaced by the glossaries the corpus profile (a callable, read only when needed)
    selects, each once."""
    if "auto" not in names:
        return list(names)
    chosen = glossaries_for(profile())
    return list(dict.fromkeys(n for name in names for n in (chosen if name == "auto" else [name])))
