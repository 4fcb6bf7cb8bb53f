"""LLM answers end to end with an in-process model: prompt, budget, citations, timings, API and CLI."""

import pytest
from fake_llm import ScriptedLLM

from docrag import Index
from docrag.config import Decoding
from docrag.errors import ConfigError
from docrag.generate.llm import LLMAnswerer
from docrag.models.rerank import Reranker
from docrag.text.analyzer import Analyzer
from docrag.types import Hit


def _hit(cid, text, page=None):
    return Hit(chunk_id=cid, text=text, doc_path=f"/docs/d{cid}.pdf", score=1.0 / cid, page=page)


HITS = [_hit(1, "龙井茶产于浙江杭州西湖。", 2), _hit(2, "乌龙茶属于半发酵茶。", 5)]


def test_answer_parses_citations_back_to_the_passages_given():
    llm = ScriptedLLM("龙井茶产于杭州西湖[1]，不是福建[9]。")
    ans = LLMAnswerer(llm, Analyzer(), Decoding()).answer("龙井茶产自哪里？", HITS)
    assert ans.text == "龙井茶产于杭州西湖[1]，不是福建。"
    assert [(c.number, c.doc_path, c.page) for c in ans.citations] == [(1, "/docs/d1.pdf", 2)]
    assert ans.dropped_citations == 1 and any("[9]" in n for n in ans.notes)
    assert ans.mode == "scripted" and ans.usage["completion_tokens"] == len("龙井茶产于杭州西湖[1]，不是福建[9]。")
    system, user = llm.prompts[0]
    assert "[1] d1.pdf 第2页\n龙井茶产于浙江杭州西湖。" in user["content"] and "问题：龙井茶产自哪里？" in user["content"]


def test_language_follows_the_question_unless_configured():
    llm = ScriptedLLM("It is [1].")
    LLMAnswerer(llm, Analyzer(), Decoding()).answer("Where is Longjing tea from?", HITS)
    LLMAnswerer(llm, Analyzer(), Decoding(), language="en").answer("龙井茶产自哪里？", HITS)
    assert "Question: Where is Longjing tea from?" in llm.prompts[0][1]["content"]
    assert "Answer in English" in llm.prompts[1][0]["content"]


def test_small_window_leaves_passages_out_and_says_so():
    hits = [_hit(i, f"第{i}段资料。" + "内容" * 150) for i in range(1, 6)]
    llm = ScriptedLLM("答[1]。", context_window=700)
    ans = LLMAnswerer(llm, Analyzer(), Decoding(max_new_tokens=100)).answer("问题？", hits)
    prompt_chars = sum(len(m["content"]) for m in llm.prompts[0])
    assert prompt_chars + 100 <= 700
    assert ans.omitted_passages >= 1 and "未提供给模型" in ans.notes[0]
    assert f"另有 {ans.omitted_passages} 段相关资料" in llm.prompts[0][1]["content"]


def test_no_hits_means_no_model_call():
    llm = ScriptedLLM()
    ans = LLMAnswerer(llm, Analyzer(), Decoding()).answer("问题？", [])
    assert not ans.found and ans.text == "资料中没有找到答案。" and llm.prompts == []


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory, sample_dir):
    idx = Index.open(tmp_path_factory.mktemp("llm") / "idx", create=True, dense=False)
    idx.add(sample_dir)
    return idx


class ReverseReranker(Reranker):
    """Prefers what fusion ranked last, so a reordering is visible."""

    name = "reverse"

    def score(self, query, texts):
        return [float(i) for i in range(len(texts))]


def test_index_ask_with_an_llm_streams_and_times_every_stage(bm25_index):
    llm = ScriptedLLM(lambda messages: "融合[1]。")
    pieces = []
    ans = bm25_index.ask("hybrid search fusion", llm=llm, on_token=pieces.append, decoding={"strategy": "sample",
                                                                                     "seed": 7})
    assert "".join(pieces) == "融合[1]。" and ans.text == "融合[1]。"
    assert ans.citations[0].doc_path == ans.hits[0].doc_path
    assert {"retrieve", "generate", "first_token"} <= set(ans.timings) and "rerank" not in ans.timings
    assert "load_model" not in ans.timings  # a model object passed in is not loaded here
    assert llm.decodings[0].strategy == "sample" and llm.decodings[0].seed == 7
    with pytest.raises(ConfigError, match="unknown decoding option"):
        bm25_index.ask("融合", llm=llm, decoding={"beams": 3})
    with pytest.raises(ConfigError, match="beam search needs num_beams >= 2"):
        bm25_index.ask("融合", llm=llm, decoding={"strategy": "beam", "num_beams": 1})


def test_rerank_reorders_hits_and_is_timed(bm25_index):
    plain = bm25_index.search("hybrid search fusion", k=3, rerank="none")
    reranked = bm25_index.search("hybrid search fusion", k=3, rerank=ReverseReranker())
    assert [h.chunk_id for h in plain] != [h.chunk_id for h in reranked]
    assert all({"fusion", "rerank"} <= set(h.scores) for h in reranked)
    ans = bm25_index.ask("hybrid search fusion", llm=ScriptedLLM("x [1]"), rerank=ReverseReranker())
    assert "rerank" in ans.timings


def test_llm_spec_errors_are_clear(bm25_index):
    with pytest.raises(ConfigError, match="openai:MODEL or transformers:PATH"):
        bm25_index.ask("融合", llm="gpt4")
    with pytest.raises(ConfigError, match="cross-encoder:PATH_OR_ID or http:MODEL"):
        bm25_index.search("融合", rerank="bge")


def test_prompt_is_checked_whole_and_the_last_passages_dropped_until_it_fits():
    class Overhead(ScriptedLLM):  # a chat template that costs 300 tokens more than the messages' text
        def count_prompt_tokens(self, messages):
            return sum(len(m["content"]) for m in messages) + 300

    hits = [_hit(i, f"第{i}段资料。" + "内容" * 40) for i in range(1, 6)]
    llm = Overhead("答[1]。", context_window=1000)
    ans = LLMAnswerer(llm, Analyzer(), Decoding(max_new_tokens=100)).answer("问题？", hits)
    assert llm.count_prompt_tokens(llm.prompts[0]) <= 1000 - 100
    assert ans.omitted_passages >= 1 and f"另有 {ans.omitted_passages} 段" in llm.prompts[0][1]["content"]
