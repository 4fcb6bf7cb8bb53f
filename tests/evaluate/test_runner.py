"""The evaluation runner and its reports, end to end on the bundled sample."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from docrag.config import Config
from docrag.evaluate import evaluate
from docrag.evaluate.datasets import Dataset, Gold, Question
from docrag.evaluate.report import markdown_table
from docrag.evaluate.runner import Variant, build_index, evaluate_variant, faithfulness
from docrag.types import Answer, Citation, Hit

QUESTIONS = [
    Question("q1", "龙井茶产自哪里？", ["浙江杭州西湖"], [Gold("中国茶.html")], type="zh"),
    Question("q2", "What constant k does reciprocal rank fusion commonly use?", ["60"], [Gold("hybrid_search.txt")],
             type="en"),
    Question("q3", "七十亿参数的模型以半精度加载需要多少显存？", ["14 GB"], [Gold("notes_gbk.txt")], type="zh"),
]


@pytest.fixture(scope="module")
def dataset(sample_dir):
    return Dataset("sample", list(QUESTIONS), [sample_dir], "doc")


@pytest.fixture(scope="module")
def index(dataset, tmp_path_factory):
    path, build = build_index(dataset, dataset.corpus, Config(), tmp_path_factory.mktemp("cache"), dense=False)
    assert build["seconds"] > 0 and not build["cached"]
    return path


def test_retrieval_and_answer_scores(dataset, index):
    result = evaluate_variant(dataset, index, Variant("bm25", Config.load(mode="bm25")), [1, 5])
    rows = {r["id"]: r for r in result["questions"]}
    assert rows["q1"]["hit@1"] == 1.0 and rows["q1"]["retrieved"][0] == "中国茶.html"
    assert rows["q1"]["answer_recall@5"] == 1.0 and "杭州西湖" in rows["q1"]["answer"]
    assert rows["q1"]["faithfulness"] == 1.0  # extractive sentences are quotes of their passages
    assert rows["q1"]["citation_precision"] == 1.0
    s = result["summary"]
    assert s["n"] == 3 and s["hit@5"] == 1.0 and 0 < s["f1"] <= 1 and s["retrieve_ms_p50"] > 0
    assert s["answered"] == 1.0


def test_abstentions_are_counted(dataset, index):
    # no passage covers 95% of any question's terms: every answer is "not found"
    result = evaluate_variant(dataset, index, Variant("strict", Config.load(mode="bm25", min_support=0.95)), [1])
    assert [r["answered"] for r in result["questions"]] == [0.0, 0.0, 0.0]
    assert result["summary"]["answered"] == 0.0


def test_build_is_cached_by_content(dataset, index, tmp_path_factory):
    again, build = build_index(dataset, dataset.corpus, Config(), index.parent, dense=False)
    assert again == index and build["cached"]
    other, _ = build_index(dataset, dataset.corpus, Config.load(chunk__size=200), index.parent, dense=False)
    assert other != index


def test_the_same_corpus_in_another_folder_replaces_the_cached_copy(dataset, sample_dir, tmp_path):
    import docrag

    cache = tmp_path / "cache"
    first, _ = build_index(dataset, dataset.corpus, Config(), cache, dense=False)
    moved = shutil.copytree(sample_dir, tmp_path / "moved")  # same names and contents: the same cache key
    again, build = build_index(dataset, [moved], Config(), cache, dense=False)
    assert again == first and not build["cached"]
    with docrag.Index.open(again, readonly=True) as idx:
        docs = idx.store.docs()
    assert docs and all(d.startswith(str(moved.resolve())) for d in docs)  # each document once, from where it is now
    assert len(docs) == len({d.rsplit("/", 1)[-1] for d in docs})


def test_build_cache_key_names_the_backend(dataset):
    from docrag.evaluate.runner import corpus_fingerprint

    keys = {corpus_fingerprint(dataset.corpus, Config.load(**o), dense=False) for o in (
        {}, {"index.backend": "milvus"}, {"index.backend": "milvus", "index.milvus_uri": "http://m:19530"})}
    assert len(keys) == 3  # a Milvus build is never taken for the SQLite one, nor one server's for another's
    assert corpus_fingerprint(dataset.corpus, Config.load(milvus_dense="docrag"), dense=False) in keys  # search only


def test_ctrl_c_keeps_finished_questions(dataset, index):
    def interrupt_after_two(stage, done, total):
        if done == 2:
            raise KeyboardInterrupt

    result = evaluate_variant(dataset, index, Variant("bm25", Config.load(mode="bm25")), [1], interrupt_after_two)
    assert result["interrupted"] and len(result["questions"]) == 2 and result["summary"]["n"] == 2


def test_faithfulness_counts_unsupported_sentences():
    hit = Hit(chunk_id=1, text="龙井茶产于浙江杭州西湖。它是绿茶。", doc_path="/t.md", score=1.0)
    answer = Answer(text="龙井茶产于浙江杭州西湖。[1] 月亮是奶酪做的。[1]",
                    citations=[Citation(1, "/t.md", None, "龙井茶产于浙江杭州西湖。", chunk_id=1)], hits=[hit])
    share, scores = faithfulness(answer)
    assert share == 0.5 and scores[0] == 1.0 and scores[1] < 0.5


def test_evaluate_writes_readable_report(tmp_path, sample_dir, monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_dir, corpus)
    qs = tmp_path / "qs.jsonl"
    qs.write_text("\n".join(json.dumps({"question": q.question, "answers": q.answers, "type": q.type,
                                         "gold": [{"doc": g.doc} for g in q.gold]}, ensure_ascii=False)
                            for q in QUESTIONS), encoding="utf-8")
    shutil.copy(qs, corpus / "qs.jsonl")
    out = tmp_path / "report"
    data = evaluate(f"jsonl:{corpus / 'qs.jsonl'}", build=True, modes=["bm25", "hybrid"], ks=[1, 3], out=out,
                    dense=False, cache=tmp_path / "cache")
    assert [r["name"] for r in data["results"]] == ["bm25", "hybrid"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| configuration | n | hit@1 | hit@3 |" in md and "**" in md and "by question type" in md
    assert "| configuration | n | EM | F1 | ROUGE-1 | ROUGE-2 | ROUGE-L |" in md
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["results"][0]["questions"][0]["question"] == QUESTIONS[0].question
    assert (out / "recall_at_k.png").stat().st_size > 1000 and (out / "by_type.png").exists()


def test_markdown_table_bolds_the_best_value_per_column():
    results = [{"name": "a", "summary": {"n": 2, "hit@1": 0.5, "retrieve_ms_p50": 10.0}},
               {"name": "b", "summary": {"n": 2, "hit@1": 0.75, "retrieve_ms_p50": 30.0}}]
    table = markdown_table(results, [1])
    assert "| a | 2 | 0.500 | **10** |" in table and "| b | 2 | **0.750** | 30 |" in table


def test_cli_eval_on_the_bundled_questions(tmp_path, sample_dir):
    corpus = tmp_path / "docs"
    shutil.copytree(sample_dir, corpus)
    qs = sample_dir.parent / "questions.jsonl"
    lines = [json.loads(line) for line in qs.read_text(encoding="utf-8").splitlines()]
    mine = [q for q in lines if q["gold"][0]["doc"] != "docrag_guide.pdf"]  # the guide PDF is made by the demo
    (corpus / "questions.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in mine),
                                            encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "docrag.cli", "eval", f"jsonl:{corpus / 'questions.jsonl'}", "--build",
                        "--no-dense", "--modes", "bm25", "--k", "1,5", "--out", str(tmp_path / "rep")],
                       capture_output=True, text=True, env={**__import__("os").environ, "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "| bm25 | 4 |" in r.stdout and (tmp_path / "rep" / "report.md").exists()
    r = subprocess.run([sys.executable, "-m", "docrag.cli", "eval", "nosuchformat:x", "--build"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "unknown data set format" in r.stderr


def test_one_configuration_per_toml_file(tmp_path):
    from docrag.evaluate.runner import variants

    (tmp_path / "rrf.toml").write_text('[retrieve]\nmode = "hybrid"\nfusion = "rrf"\n')
    (tmp_path / "weighted.toml").write_text('[retrieve]\nmode = "hybrid"\nfusion = "weighted"\n')
    got = variants([tmp_path / "rrf.toml", tmp_path / "weighted.toml"], ["bm25"], Config())
    assert [(v.name, v.config.retrieve.fusion) for v in got] == [("rrf", "rrf"), ("weighted", "weighted")]
    got = variants([], ["bm25", "dense"], Config.load(chunk__size=300))
    assert [(v.name, v.config.retrieve.mode, v.config.chunk.size) for v in got] == [("bm25", "bm25", 300),
                                                                                    ("dense", "dense", 300)]


def test_each_configuration_is_evaluated_on_the_index_its_chunking_makes(tmp_path, sample_dir):
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_dir, corpus)
    (corpus / "qs.jsonl").write_text(json.dumps({"question": QUESTIONS[0].question, "answers": QUESTIONS[0].answers,
                                                 "gold": [{"doc": "中国茶.html"}]}, ensure_ascii=False),
                                     encoding="utf-8")
    configs = []
    for name, body in [("small", "[chunk]\nsize = 120\noverlap = 0\n"), ("small-bm25", "[chunk]\nsize = 120\n"
                       "overlap = 0\n[retrieve]\nmode = \"bm25\"\n"), ("sentences", "[chunk]\nstrategy = "
                       "\"sentence_window\"\n")]:
        (tmp_path / f"{name}.toml").write_text(body, encoding="utf-8")
        configs.append(tmp_path / f"{name}.toml")
    data = evaluate(f"jsonl:{corpus / 'qs.jsonl'}", build=True, configs=configs, ks=[1], out=None, dense=False,
                    cache=tmp_path / "cache")
    small, small_bm25, sentences = (r["index"] for r in data["results"])
    assert small == small_bm25 != sentences  # retrieval-only differences share an index
    assert data["index"] == f"{small}, {sentences}"
