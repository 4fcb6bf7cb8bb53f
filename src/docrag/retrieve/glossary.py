"""Query expansion from glossaries: the words a question uses bring the words documents use for the same
thing ("income statement" -> "consolidated statements of operations"; "quick ratio" -> the balance-sheet
lines it is computed from). Lexical search cannot bridge that gap by itself, and without an LLM to rewrite
the question a curated glossary is how search engines do it (Elasticsearch/Solr synonym files, RAGFlow's
synonym dictionary).

A glossary is a text file in the Solr synonyms format (a subset):

    # comment
    income statement, statement of operations, statement of earnings   <- any one brings the others
    quick ratio, acid test => current assets, current liabilities      <- one way: left brings right

Terms are matched as analyzed token sequences (stemmed, stop words dropped, Chinese segmented), so
"statements of income" matches "statement of income". BM25 scores the terms brought like the question's
own words, times config ``retrieve.glossary_weight``. Bundled glossaries are named by file stem
(``finance-en``, ``finance-zh``); anything else is a path.
"""

from __future__ import annotations

from pathlib import Path

from docrag.errors import ConfigError
from docrag.text.analyzer import Analyzer

BUNDLED = Path(__file__).with_name("glossaries")


def bundled_names() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.txt"))


def glossary_path(name: str) -> Path:
    bundled = BUNDLED / f"{name}.txt"
    if bundled.is_file():
        return bundled
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(f"glossary {name!r}: no such file, and not a bundled glossary "
                          f"({', '.join(bundled_names())})")
    return path


def read_rules(path: Path) -> list[tuple[list[str], list[str]]]:
    """(terms that trigger, terms they bring) per rule; an equivalence line gives one rule per term."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"glossary {path}: cannot read it ({e})") from e
    rules = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        sides = line.split("=>")
        terms = [[t.strip() for t in side.split(",") if t.strip()] for side in sides]
        if len(sides) > 2 or not all(terms) or (len(sides) == 1 and len(terms[0]) < 2):
            raise ConfigError(f"glossary {path}:{number}: expected 'a, b => c, d' or 'a, b, c', got {line!r}")
        if len(sides) == 2:
            rules.append((terms[0], terms[1]))
        else:
            rules += [([t], [o for o in terms[0] if o != t]) for t in terms[0]]
    return rules


class Glossary:
    """Compiled rules: ``expand(query_tokens)`` gives the tokens the question's glossary terms bring."""

    def __init__(self, rules: list[tuple[list[str], list[str]]], analyzer: Analyzer):
        self.analyzer = analyzer
        # first token -> [(trigger tokens, expansion tokens)]: a query is scanned once, whatever the rule count
        self._by_first: dict[str, list[tuple[tuple[str, ...], list[str]]]] = {}
        for triggers, expansions in rules:
            brought = [tok for term in expansions for tok in analyzer.tokenize(term)]
            for term in triggers:
                # "capital intensive" also as "capital-intensive": the analyzer keeps a hyphenated word whole
                for form in dict.fromkeys((term, term.replace(" ", "-"))):
                    tokens = tuple(analyzer.tokenize(form))
                    if tokens and brought:
                        self._by_first.setdefault(tokens[0], []).append((tokens, brought))

    @classmethod
    def load(cls, names: list[str], analyzer: Analyzer) -> Glossary:
        return cls([rule for name in names for rule in read_rules(glossary_path(name))], analyzer)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_first.values())

    def expand(self, query_tokens: list[str]) -> list[str]:
        """Tokens brought by the glossary terms found in the query, each once, none the query has."""
        brought: dict[str, None] = {}
        for i, token in enumerate(query_tokens):
            for trigger, tokens in self._by_first.get(token, ()):
                if tuple(query_tokens[i:i + len(trigger)]) == trigger:
                    brought.update(dict.fromkeys(tokens))
        have = set(query_tokens)
        return [t for t in brought if t not in have]
