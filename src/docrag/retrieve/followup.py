"""Follow-up questions made standalone before retrieval.

In a conversation a question often leans on the earlier ones: "那它的营收呢？", "and in 2022?", "What about its
net income?". Searched as they are, they name neither the company nor the period, and retrieval misses. Before
searching, such a question is rewritten into one that stands alone:

- with an LLM: the earlier questions and the follow-up go to the model with a short versioned prompt
  (``PROMPT``); what it writes is used unless it is empty, very long or the call fails, when the rules below are
  used instead;
- without one (extractive mode), by rules. The previous question's *subject* (the document entity the router
  finds in it, such as ``3M`` or ``江苏爱康太阳能``) and its *period* (years, FY2018) are carried into the
  follow-up when it lacks them: a pronoun (它, 其, 该公司, it, its, the company) is replaced by the subject, else
  the subject is added; a missing year is added.
  A follow-up with no content words of its own ("and in 2022?", "那国电电力呢？", "What about Boeing?") is the
  previous question with its period or subject swapped for the follow-up's.

Without a document entity in the previous question (a corpus whose file names name nothing), its subject is its
《title》 or the noun phrase it starts with ("魏玩的字是什么？" is about 魏玩), and only a follow-up with a pronoun
(它, 他, 其, it, its) takes it.

A question that names its own subject (and is more than a subject and a period), or that is long and carries no
pronoun or ellipsis cue, is left unchanged: a wrong rewrite costs more than a missed one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import rjieba

from docrag.config import Decoding
from docrag.models.llm import LLM, Message
from docrag.retrieve.routing import _YEAR, DocRouter
from docrag.text.analyzer import Analyzer

log = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# a year as written, with what says it is one: FY2018, FY 2023, FY21, 2008年度, 2021年, 2018
_YEAR_TEXT = re.compile(rf"\bFY\s?'?(?:19|20)?\d{{2}}\b|{_YEAR.pattern}(?:年度|年)?", re.I)
# words of a question that say which period, not what is asked: dropped when counting its content words
_PERIOD_WORDS = {"年", "年度", "fy", "q1", "q2", "q3", "q4", "h1", "h2", "季度", "上半年", "下半年", "全年", "year",
                 "fiscal", "quarter", "同期", "期间", "period"}
# words that only say "and what about": no content of their own
_FILLER = {"then", "about", "and", "also", "same", "again", "instead", "ok", "okay", "company", "compani", "firm",
           "那", "那么", "呢", "与", "和", "还有", "又", "再", "看", "情况", "怎么样", "如何", "吗", "的", "者",
           "前者", "后者", "上述", "这个", "那个", "该", "公司"}
# pronouns and other cues that a question leans on an earlier one
_ITS_ZH = r"(?<![及尤极与])其(?![中他它余实次后前间])"  # 其 as "its", not in 其中, 其他, 尤其, 及其 ...
_CUE_ZH = re.compile(r"[它她]们?|(?<!其)他们?(?!人)|" + _ITS_ZH +
                     r"|该(?:公司|企业|集团|行|机构|单位)|这家|那家|此公司|上述|前者|后者|同期|"
                     r"^(?:那么?|还有|另外)|呢[？?]?\s*$|这个|那个|这一|同一")
_CUE_EN = re.compile(r"\b(?:it|its|they|their|them|he|his|she|the (?:same )?(?:company|firm)(?:'s)?"
                     r"|same (?:period|year|quarter)|that (?:year|period|quarter|company))\b"
                     r"|^\s*(?:and|what about|how about|also|then)\b", re.I)
# pronouns the subject replaces: (pattern, replacement built from the subject)
_PRONOUNS_ZH = [(re.compile(r"该(?:公司|企业|集团|机构)|这家公司|此公司|那家公司"), "{s}"),
                (re.compile(r"它们的|它的|(?<!其)他们的|(?<!其)他的|她们的|她的"), "{s}的"),
                (re.compile(_ITS_ZH), "{s}的"),
                (re.compile(r"它们|它|(?<!其)他们|(?<!其)他(?!人)|她们|她"), "{s}")]
_PRONOUNS_EN = [(re.compile(r"\bthe (?:company|firm)'s\b|\bits\b|\btheir\b|\bhis\b", re.I), "{s}'s"),
                (re.compile(r"\bthe (?:company|firm)\b|\bit\b|\bthem\b|\bthey\b|\bhe\b|\bshe\b", re.I), "{s}")]
_TITLE = re.compile(r"《[^》]{1,30}》")
_CAPITALIZED = re.compile(r"\b(?:[A-Z][a-zA-Z0-9&'-]*[a-zA-Z0-9])(?:\s+[A-Z][a-zA-Z0-9&'-]*[a-zA-Z0-9])*\b")
_NOT_NAMES = {"what", "which", "who", "when", "where", "why", "how", "is", "are", "was", "were", "does", "did", "do",
              "has", "have", "had", "can", "could", "should", "would", "will", "in", "on", "for", "and", "or", "the",
              "a", "an", "of", "to", "by", "from", "with", "as", "at", "if", "please", "give", "answer", "assume",
              "based", "using", "among", "considering", "we", "i", "you", "it", "its", "they", "their", "that",
              "this", "these", "those", "fy", "usd", "eur", "gbp", "rmb", "cny", "q1", "q2", "q3", "q4", "h1", "h2",
              "ok", "also", "then", "about", "same", "net", "total", "gaap", "non", "yes", "no"}
# the phrase a Chinese question starts with ends at its first function or question word
_LEADING = re.compile(r"^(.{2,16}?)(?:的|是|在|位于|于|有哪|有多|有什么|有几|为|被|又名|又称|也叫|也称|分布|因|何|"
                      r"什么|哪|如何|怎|多少|几|现在|主要|指|属于|获得|出生|成立|创建|建于|由|不|可以|曾|最)")
_WHAT_IS = re.compile(r"^(?:什么是|何为|何谓|为什么|为何)(.{2,16}?)(?:[？?]*$|是|的|不|会|能|要)")
_LEAD_SKIP = re.compile(r"^(?:(?:19|20)\d\d年[^，,]{0,6}[，,]|在[^，,]{1,8}[，,]|当)")
_PROPER_TAGS = {"nr", "ns", "nt", "nz", "nrt", "nrfg"}  # jieba's person, place, organisation, other proper name
_SQUASHED = set(" \t\n-_'’.,")  # what DocRouter.named removes before matching
_MIN_LONG = 6  # content words from which a question with no cue is taken as standalone
_QUESTION_END = re.compile(r"[?？]")

PROMPT_VERSION = 1  # bump when the wording of PROMPT or USER changes
PROMPT = {
    "zh": ("你负责把多轮对话中的追问改写成一个独立的问题，供文档检索使用。\n"
           "规则：\n1. 补全追问省略或用代词（它、其、该公司、那……呢）指代的公司、产品、年份和指标，"
           "使问题不看对话也能理解。\n"
           "2. 如果追问本身已经完整，原样输出。\n3. 不回答问题，不添加对话中没有的信息。\n"
           "4. 只输出改写后的问题，一行，使用追问的语言。"),
    "en": ("You rewrite the follow-up question of a conversation into a standalone question for document search.\n"
           "Rules:\n1. Fill in the company, product, period and metric that the follow-up leaves out or refers to "
           "with a pronoun (it, its, they, that year, what about ...), so it can be understood without the "
           "conversation.\n2. If the follow-up already stands alone, output it unchanged.\n"
           "3. Do not answer it; add nothing that the conversation does not say.\n"
           "4. Output only the rewritten question, on one line, in the language of the follow-up."),
}
USER = {"zh": "对话中之前的问题：\n{history}\n\n追问：{question}\n\n独立问题：",
        "en": "Earlier questions in the conversation:\n{history}\n\nFollow-up: {question}\n\nStandalone question:"}
_ANSWER_LABEL = re.compile(r"^\s*(?:独立问题|改写后的问题|改写|问题|standalone question|rewritten question|question)"
                           r"\s*[:：]\s*", re.I)
DECODING = Decoding(strategy="greedy", max_new_tokens=128)


def language(text: str) -> str:
    """'zh' when the text has Chinese characters (two or more), else 'en' (as the answer prompts decide)."""
    return "zh" if len(_CJK.findall(text)) >= 2 else "en"


@dataclass
class _Context:
    """What a question is about: its subjects (as written) and periods (as written)."""

    subjects: list[str] = field(default_factory=list)
    years: list[str] = field(default_factory=list)


class FollowUp:
    """Rewrites follow-up questions by the rules above (and by an LLM when given one)."""

    def __init__(self, router: DocRouter | None, analyzer: Analyzer, llm: LLM | None = None,
                 decoding: Decoding = DECODING):
        self.router, self.analyzer, self.llm, self.decoding = router, analyzer, llm, decoding

    # --- the question's parts -----------------------------------------------------------------
    def routed(self, question: str) -> list[str]:
        """The document entities the router finds in a question, as written there (longest first)."""
        found: list[str] = []
        if self.router is not None:
            for term in sorted(self.router.named(question), key=len, reverse=True):
                span = _surface(question, term)
                if span and not any(span in s for s in found):
                    found.append(span)
        return found

    def subjects(self, question: str) -> list[str]:
        """What a question names, as written: the document entities the router finds, else its topic (《title》,
        leading noun phrase, capitalised names)."""
        return self.routed(question) or _topics(question)

    def content_words(self, question: str, subjects: list[str]) -> list[str]:
        """The analyzer's terms of a question less its subjects, periods and filler words."""
        drop = {t for s in subjects for t in self.analyzer.tokenize(s)} | _PERIOD_WORDS | _FILLER
        return [t for t in self.analyzer.tokenize(_YEAR_TEXT.sub(" ", question))
                if t not in drop and not t.isdigit() and not _PERIOD.match(t)]

    # --- rules --------------------------------------------------------------------------------
    def rewrite(self, question: str, history: list[str]) -> str:
        """The follow-up made standalone by the rules (each earlier question is resolved against its own
        predecessors first, so a chain of follow-ups keeps its subject)."""
        previous = ""
        for earlier in history:
            if earlier.strip():
                previous = self._rewrite_one(earlier, previous) if previous else earlier
        return self._rewrite_one(question, previous) if previous else question

    def _rewrite_one(self, question: str, previous: str) -> str:
        routed = self.routed(previous)
        before = _Context(routed or _topics(previous), _years(previous))
        if not before.subjects and not before.years:
            return question
        # about documents the router knows, the follow-up's own subject is judged by the router alone (a capitalised
        # word such as "PP&E" is no company); else by its topic, and only a pronoun makes it lean on the previous one
        own = _Context(self.routed(question) if routed else _topics(question), _years(question))
        content = self.content_words(question, own.subjects)
        if not routed:
            if not content and own.years and not own.subjects:  # "那2020年呢？"
                return _swap(previous, before, own)
            return _carry(question, before, own, language(question)) if self._leans(question) and before.subjects \
                else question
        if not content and (own.subjects or own.years):  # "and in 2022?", "那国电电力呢？": the previous question,
            return _swap(previous, before, own)             # about this period or subject
        if own.subjects:  # it names its own company: standalone
            return question
        cue = _CUE_ZH.search(question) or _CUE_EN.search(question)
        if not cue and len(content) >= _MIN_LONG:
            return question
        if not content:  # "Why?", "为什么？": nothing to fill in, ask it of the previous question
            return f"{previous} {question}"
        return _carry(question, before, own, language(question))

    @staticmethod
    def _leans(question: str) -> bool:
        """Whether a question has a pronoun that names nothing before it in the question ("它的面积有多大？", not
        "当马来穿山甲感到威胁时，它们会如何做？")."""
        found = _first_pronoun(question, [*_PRONOUNS_ZH, *_PRONOUNS_EN])
        if found is None:
            return False
        before = question[:found[0].start()]
        named = any(tag in _PROPER_TAGS and len(w) >= 2 for w, tag in rjieba.tag(before))
        return not (named or _topics(before))

    # --- with an LLM --------------------------------------------------------------------------
    def standalone(self, question: str, history: list[str]) -> str:
        """The follow-up made standalone: by the LLM when there is one (the rules when it fails or writes
        something empty or far too long), else by the rules. Without history the question is returned as is."""
        history = [h for h in history if h.strip()]
        if not history or not question.strip():
            return question
        if self.llm is None:
            return self.rewrite(question, history)
        try:
            written = self.ask_llm(question, history)
        except Exception as e:  # noqa: BLE001 - any backend failure: the rules answer instead
            log.warning("follow-up rewrite by %s failed (%s); using the rules", self.llm.name, e)
            written = None
        return self.rewrite(question, history) if written is None else written

    def messages(self, question: str, history: list[str]) -> list[Message]:
        lang = language(question)
        lines = "\n".join(f"{i}. {h.strip()}" for i, h in enumerate(history, 1))
        return [{"role": "system", "content": PROMPT[lang]},
                {"role": "user", "content": USER[lang].format(history=lines, question=question.strip())}]

    def ask_llm(self, question: str, history: list[str]) -> str | None:
        """The LLM's standalone question, or None when it wrote nothing usable (empty, cut off, far too long)."""
        assert self.llm is not None
        generation = self.llm.generate(self.messages(question, history), self.decoding)
        lines = [line for line in generation.text.strip().splitlines() if line.strip()]
        text = _ANSWER_LABEL.sub("", lines[0]).strip().strip("\"'“”「」") if lines else ""
        longest = max(len(question), *(len(h) for h in history))
        if not text or generation.finish_reason == "length" or len(text) > max(2 * longest, len(question) + 200):
            return None
        return text


def standalone_question(question: str, history: list[str], router: DocRouter | None, analyzer: Analyzer,
                        llm: LLM | None = None) -> str:
    """``question`` rewritten to stand alone given the earlier user questions ``history`` (oldest first): by
    ``llm`` when given (falling back to the rules when it fails), else by carrying the previous question's
    subject (the document ``router`` finds it names) and year into it. A standalone question comes back as is."""
    return FollowUp(router, analyzer, llm).standalone(question, history)


# --- helpers ------------------------------------------------------------------------------------
_PERIOD = re.compile(r"^(?:q[1-4]|h[12]|fy\d{0,4})$")


def _years(text: str) -> list[str]:
    """Years as written in the text (FY2018, 2008年度, 2022), in order, without repeats."""
    seen: dict[int, str] = {}
    for m in _YEAR_TEXT.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        year = int(digits) if len(digits) == 4 else 2000 + int(digits[-2:])
        seen.setdefault(year, m.group())
    return list(seen.values())


def _surface(question: str, term: str) -> str | None:
    """The span of ``question`` that names the router's entity ``term`` ("Best Buy" for ``bestbuy``,
    "江苏爱康太阳能" for ``江苏爱康太阳能科技股份有限公司``, "MGM" for ``mgmresorts``): the longest span whose
    characters, lower-cased and without spaces and punctuation, are the term or a start of it."""
    lower = question.lower()
    best, best_len = None, 0
    for i, c in enumerate(lower):
        if c != term[0]:
            continue
        j, k = i, 0
        while j < len(lower) and k < len(term):
            if lower[j] == term[k]:
                j, k = j + 1, k + 1
            elif lower[j] in _SQUASHED:
                j += 1
            else:
                break
        if k > best_len:
            best, best_len = question[i:j].rstrip(" -_'’.,"), k
    return best if best and (best_len == len(term) or best_len >= 2) else None


def _topics(question: str) -> list[str]:
    """What a question is about when the router names nothing: its 《titles》, the noun phrase it starts with
    (Chinese: "尤金袋鼠分布在哪些地区" is about 尤金袋鼠, "魏玩的字是什么" about 魏玩), and capitalised words not at
    its start (English)."""
    names = [m.group() for m in _TITLE.finditer(question)]
    rest = _TITLE.sub(" ", question)
    lead = _leading_phrase(rest.strip())
    if lead:
        names.append(lead)
    for m in _CAPITALIZED.finditer(rest):
        words = [w for w in m.group().split()
                 if w.lower().strip("'s") not in _NOT_NAMES and not _PERIOD.match(w.lower())
                 and not _YEAR_TEXT.fullmatch(w)]
        at_start = m.start() == len(rest) - len(rest.lstrip())
        if words and not (at_start and len(words) == 1 and words[0] == m.group()):
            names.append(" ".join(words))
    return list(dict.fromkeys(names))


def _leading_phrase(question: str) -> str:
    """The Chinese noun phrase a question starts with: what comes before its first function word or question word
    ("尤金袋鼠分布在哪些地区" -> 尤金袋鼠, "魏玩的字是什么" -> 魏玩, "什么是梧桐树协议" -> 梧桐树协议; a leading
    "2007年，" or "在中国，" skipped); "" when there is none or it holds a pronoun."""
    q = _LEAD_SKIP.sub("", question.strip())
    m = _WHAT_IS.match(q) or _LEADING.match(q)
    phrase = m.group(1).strip("“”\"「」『』 ") if m else ""
    if len(phrase) < 2 or not _CJK.search(phrase) or any(p.search(phrase) for p, _ in _PRONOUNS_ZH):
        return ""
    return phrase


def _swap(previous: str, before: _Context, own: _Context) -> str:
    """The previous question with its years and subject replaced by the follow-up's (those it names)."""
    out = previous
    if own.years:
        if before.years:
            first = True

            def year(m: re.Match) -> str:
                nonlocal first
                keep, first = first, False
                return _restyle(own.years[0], m.group()) if keep else ""
            out = _YEAR_TEXT.sub(year, out)
        else:
            out = _carry(out, _Context([], own.years), _Context(), language(previous))
    if own.subjects:
        if before.subjects:
            out = out.replace(before.subjects[0], own.subjects[0], 1)
            for other in before.subjects[1:]:
                out = out.replace(other, "")
        else:
            out = _carry(out, _Context(own.subjects[:1], []), _Context([], _years(out)), language(previous))
    return re.sub(r"\s{2,}", " ", out).strip()


def _restyle(year: str, like: str) -> str:
    """``year`` written as ``like`` writes years: 2022 -> FY2022 where the question said FY2018, 2022年度 where it
    said 2008年度."""
    digits = re.sub(r"\D", "", year)
    full = digits if len(digits) == 4 else f"20{digits[-2:]}"
    if like.upper().startswith("FY"):
        return f"FY{full}"
    suffix = re.sub(r"^\d+", "", like)
    return full + suffix if _CJK.search(like) else full


def _carry(question: str, before: _Context, own: _Context, lang: str) -> str:
    """The follow-up with the previous subject in place of its pronoun (else added) and the previous year when it
    names none."""
    subject = before.subjects[0] if before.subjects else ""
    year = before.years[0] if before.years and not own.years else ""
    if lang == "zh":
        if year and not _CJK.search(year):
            year = f"{year}年" if year.isdigit() else year
        found = _first_pronoun(question, _PRONOUNS_ZH) if subject else None
        if found:
            m, form = found
            return question[:m.start()] + form.format(s=subject + year) + question[m.end():]
        return subject + year + question.lstrip()
    found = _first_pronoun(question, _PRONOUNS_EN) if subject else None
    if found:  # the first pronoun: "Has it increased its debt?" -> "Has Microsoft increased its debt?"
        m, form = found
        question, subject = question[:m.start()] + form.format(s=subject) + question[m.end():], ""
    if not (subject or year):
        return question
    end = _QUESTION_END.search(question)
    head, tail = (question.rstrip().rstrip("."), "") if end is None else (question[:end.start()].rstrip(),
                                                                          question[end.start():])
    if _ENDS_WITH_PREPOSITION.search(head):  # "what did it sell for?": "for for Longjing" would read badly
        extra = f"({', '.join(p for p in (subject, year) if p)})"
    else:
        extra = " ".join(p for p in (f"for {subject}" if subject else "", f"in {year}" if year else "") if p)
    return f"{head} {extra}{tail}"


_ENDS_WITH_PREPOSITION = re.compile(r"\b(?:for|of|in|on|at|to|about|from|with|by)$", re.I)


def _first_pronoun(question: str, pronouns: list[tuple[re.Pattern, str]]) -> tuple[re.Match, str] | None:
    """The pronoun that comes first in the question (at one place, the first pattern's: 它的 before 它)."""
    found = [(m.start(), i, m, form) for i, (pattern, form) in enumerate(pronouns) if (m := pattern.search(question))]
    if not found:
        return None
    _, _, m, form = min(found, key=lambda f: (f[0], f[1]))
    return m, form
