"""Fine-tuning the generator on docrag's own answer format (``docrag adapt generator``).

Each question-answer pair becomes one example. The prompt is exactly the one the LLM answerer builds
(``LLMAnswerer.prompt``: the rules, numbered passages, the question, in the model's chat template), with the
pair's source chunk among a few other chunks of the pairs file at a random position; the target is the pair's
answer citing that passage's number, then the end-of-turn token, so the model learns to cite the right [n].
The loss is on the target tokens only. Pairs without an answer (the offline pseudo-queries of ``docrag adapt qa``)
are skipped and counted.

LoRA (peft) adds r·(d+k) trainable parameters for each adapted d×k weight; ``full`` trains every weight (for
small models). The result is a peft adapter directory (``transformers:BASE+lora:DIR``) or, with ``full``, a model
directory (``transformers:DIR``), each with a manifest: the base model's fingerprint, the pairs file's hash,
the options and the losses.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docrag.adapt.pairs import Pair, read_pairs
from docrag.atomic import write_dir_atomic, write_text_atomic
from docrag.config import Decoding, ModelOptions
from docrag.errors import ConfigError
from docrag.generate.llm import LLMAnswerer
from docrag.generate.prompt import Passage, detect_language, load_template, passage_text
from docrag.ingest import sha256_file
from docrag.models.llm import Message
from docrag.models.local_llm import ADAPTER_MANIFEST, TransformersLLM, split_adapter
from docrag.models.registry import parse_spec
from docrag.models.st_embed import model_fingerprint
from docrag.text.analyzer import Analyzer
from docrag.types import Hit, Progress

if TYPE_CHECKING:
    from docrag.api import Index

IGNORED = -100  # the label transformers' loss skips: prompt and padding positions
SENTENCE_END = ".!?。！？"
NO_ANSWER = "no answer (offline pseudo-query)"  # cloze, table and heading pairs: nothing to learn to say


@dataclass(frozen=True)
class GeneratorOptions:
    """How to fine-tune; each field is the ``docrag adapt generator`` option of the same name."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str = "auto"  # comma-separated layer names, or auto: peft's choice for the architecture
    full: bool = False
    epochs: int = 2
    lr: float | None = None  # default: 2e-4 for LoRA, 2e-5 for a full fine-tune
    batch_size: int = 4
    max_length: int = 1024  # tokens of prompt and answer together
    passages: int = 4  # in each prompt: the source chunk and passages - 1 others
    seed: int = 0

    def check(self) -> None:
        """A ConfigError naming the first option out of range."""
        rules = [("--rank", self.rank, self.rank >= 1, "at least 1"),
                 ("--alpha", self.alpha, self.alpha > 0, "above 0"),
                 ("--dropout", self.dropout, 0 <= self.dropout < 1, "in [0, 1)"),
                 ("--epochs", self.epochs, self.epochs >= 1, "at least 1"),
                 ("--lr", self.lr, self.lr is None or self.lr > 0, "above 0"),
                 ("--batch-size", self.batch_size, self.batch_size >= 1, "at least 1"),
                 ("--max-length", self.max_length, self.max_length >= 64, "at least 64 tokens"),
                 ("--passages", self.passages, self.passages >= 1, "at least 1")]
        for option, value, ok, limit in rules:
            if not ok:
                raise ConfigError(f"{option} {value}: must be {limit}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else 2e-5 if self.full else 2e-4


class ChunkSource:
    """The source chunk of each pair as the answerer would get it: the pair's positive text, else the chunk from
    the index (with its table Markdown and window, as retrieval returns it)."""

    def __init__(self, index: Index | None = None):
        self.index = index

    def hit(self, pair: Pair) -> Hit | None:
        if pair.positive:
            return Hit(chunk_id=pair.chunk_id, text=pair.positive, doc_path=pair.doc, score=0.0, page=pair.page,
                       pages=[pair.page] if pair.page else [])
        if self.index is None:
            raise ConfigError(f"pair {pair.query!r} has no positive text: give --index to read its chunk "
                              f"{pair.chunk_id} from the index")
        found = self.index.store.hits([(pair.chunk_id, 0.0)])
        return found[0] if found else None


@dataclass
class Example:
    messages: list[Message]
    passages: list[Passage]  # as numbered in the prompt
    prompt_ids: list[int]
    target_ids: list[int]
    cited: int  # the source passage's number


def cite(answer: str, number: int) -> str:
    """The answer with its citation before the final full stop, as the prompt's rules ask: 'It grew 5% [2].',
    '收入增长了[2]。'."""
    text = answer.strip()
    end = text[-1] if text and text[-1] in SENTENCE_END else ""
    body = text[: len(text) - len(end)].rstrip()
    space = " " if detect_language(text) == "en" else ""
    return f"{body}{space}[{number}]{end}"


class ExampleBuilder:
    """Pair -> example: the source chunk at a random place among others, the prompt as the answerer builds it
    for the backend's context window (``max_length``), the cited answer as the target."""

    def __init__(self, llm: TransformersLLM, passages: int, rng: random.Random, language: str = "auto",
                 template: str | None = None):
        self.llm, self.passages, self.rng = llm, passages, rng
        self.language, self.template = language, template
        if template:  # read now: a bad template file is an error, not a pair skipped below
            load_template("zh", template)
        self.analyzer = Analyzer()
        eos = llm.tokenizer.eos_token_id
        self.end_id = eos if eos in llm.eos_ids else min(llm.eos_ids)

    def build(self, pair: Pair, source: Hit, others: list[Hit]) -> Example | str:
        """The example, or why the pair makes none."""
        drawn = self.rng.sample(others, min(len(others), self.passages))
        hits = [h for h in drawn if (h.doc_path, h.chunk_id) != (source.doc_path, source.chunk_id)]
        hits = hits[: self.passages - 1]
        hits.insert(self.rng.randint(0, len(hits)), source)
        # the answer's room in the window, as max_new_tokens is at answer time; "[99]": any passage number
        room = len(self.tokens(cite(pair.answer, 99))) + 1
        answerer = LLMAnswerer(self.llm, self.analyzer, Decoding(max_new_tokens=room), self.language, self.template)
        try:
            messages, passages, _ = answerer.prompt(pair.query, hits)
        except ConfigError:  # prompt_budget: the question and answer alone fill the window
            return "question and answer longer than --max-length"
        given = next((p for p in passages if p.hit is source), None)
        if given is None:
            return "source passage left out to fit --max-length"
        full = passage_text(source)
        if given.text != full and pair.answer in full and pair.answer not in given.text:
            return "answer trimmed out of its passage to fit --max-length"
        prompt_ids = self.llm.render(messages, add_generation_prompt=True)
        target_ids = self.tokens(cite(pair.answer, given.number)) + [self.end_id]
        if len(prompt_ids) + len(target_ids) > self.llm.context_window:
            return "longer than --max-length"
        return Example(messages, passages, prompt_ids, target_ids, given.number)

    def tokens(self, text: str) -> list[int]:
        return self.llm.tokenizer(text, add_special_tokens=False).input_ids


def build_examples(pairs: list[Pair], builder: ExampleBuilder,
                   chunks: ChunkSource) -> tuple[dict[str, list[Example]], Counter[str]]:
    """(examples by split, pairs skipped by reason). The other passages of a prompt come from the same split, so
    the dev chunks stay unseen."""
    by_split: dict[str, list[tuple[Pair, Hit]]] = {}
    skipped: Counter[str] = Counter()
    for pair in pairs:
        if not pair.answer:
            skipped[NO_ANSWER] += 1
            continue
        source = chunks.hit(pair)
        if source is None:
            skipped["chunk not in the index"] += 1
            continue
        by_split.setdefault(pair.split, []).append((pair, source))
    examples: dict[str, list[Example]] = {}
    for split, rows in by_split.items():
        distinct = list({(h.doc_path, h.chunk_id): h for _, h in rows}.values())
        examples[split] = []
        for pair, source in rows:
            built = builder.build(pair, source, distinct)
            if isinstance(built, str):
                skipped[built] += 1
            else:
                examples[split].append(built)
    return examples, skipped


@dataclass(frozen=True)
class ParameterCount:
    trainable: int
    total: int
    formula: int | None  # LoRA: r·(d+k) summed over the adapted d×k weights; None for a full fine-tune
    layers: int  # weights adapted (LoRA) or trained (full)


def linear_layers(model) -> dict[str, Any]:
    """The model's linear layers by full name, the output layer (LM head) excluded."""
    import torch

    head = model.get_output_embeddings()
    return {name: m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m is not head}


def lora_targets(model, requested: str) -> list[str]:
    """Layer names (last part, as peft matches them) to adapt: ``requested`` (comma-separated), or for ``auto``
    peft's default for the architecture, else every linear layer but the LM head. An unknown name is an error
    listing the names the model has."""
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS

    names = sorted({name.rsplit(".", 1)[-1] for name in linear_layers(model)})
    if requested == "auto":
        return list(PEFT_DEFAULTS.get(model.config.model_type) or names)
    wanted = [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in names]
    if unknown or not wanted:
        raise ConfigError(f"--target-modules {requested!r}: the model has no linear layer named "
                          f"{', '.join(unknown) or '(none given)'}; it has {', '.join(names)} (or use auto)")
    return wanted


def lora_formula(model, targets: list[str], rank: int) -> tuple[int, int]:
    """(parameters LoRA of rank ``rank`` adds: r·(d+k) for each d×k weight it adapts, how many weights)."""
    adapted = [m for name, m in linear_layers(model).items() if name.rsplit(".", 1)[-1] in targets]
    return sum(rank * (m.in_features + m.out_features) for m in adapted), len(adapted)


def count_parameters(model, formula: int | None, layers: int) -> ParameterCount:
    params = list(model.parameters())
    return ParameterCount(trainable=sum(p.numel() for p in params if p.requires_grad),
                          total=sum(p.numel() for p in params), formula=formula, layers=layers)


def add_lora(model, options: GeneratorOptions):
    """(the peft model around ``model``, its parameter count, the layer names adapted)."""
    from peft import LoraConfig, get_peft_model

    targets = lora_targets(model, options.target_modules)
    formula, layers = lora_formula(model, targets, options.rank)
    config = LoraConfig(r=options.rank, lora_alpha=options.alpha, lora_dropout=options.dropout,
                        target_modules=targets, task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    return peft_model, count_parameters(peft_model, formula, layers), targets


def batch(examples: list[Example], pad_id: int, device):
    """Right-padded input ids, attention mask and labels (prompt and padding masked with -100)."""
    import torch

    width = max(len(e.prompt_ids) + len(e.target_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORED, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        sequence = e.prompt_ids + e.target_ids
        ids[row, : len(sequence)] = torch.tensor(sequence)
        labels[row, len(e.prompt_ids): len(sequence)] = torch.tensor(e.target_ids)
        mask[row, : len(sequence)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def mean_loss(model, examples: list[Example], batch_size: int, pad_id: int) -> float:
    """The loss per answer token over ``examples``, without dropout or gradients."""
    import torch

    model.eval()
    total = tokens = 0.0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            inputs = batch(examples[start:start + batch_size], pad_id, model.device)
            n = int((inputs["labels"][:, 1:] != IGNORED).sum())  # transformers shifts the labels by one
            total += float(model(**inputs).loss) * n
            tokens += n
    return total / max(tokens, 1)


def fit(model, examples: list[Example], options: GeneratorOptions, pad_id: int, rng: random.Random,
        progress: Progress | None = None) -> list[float]:
    """Train ``model``'s trainable parameters on ``examples`` (AdamW, gradients clipped at 1); the loss of each
    step."""
    import torch

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=options.learning_rate, weight_decay=0.0)
    steps_per_epoch = -(-len(examples) // options.batch_size)
    total, losses = steps_per_epoch * options.epochs, []
    model.train()
    for _ in range(options.epochs):
        order = rng.sample(examples, len(examples))
        for start in range(0, len(order), options.batch_size):
            loss = model(**batch(order[start:start + options.batch_size], pad_id, model.device)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if progress:
                progress("fine-tune", len(losses), total)
    model.eval()
    return losses


@dataclass
class GeneratorReport:
    out: Path
    kind: str  # "lora" | "full"
    parameters: ParameterCount
    target_modules: list[str]
    examples: dict[str, int]  # by split
    skipped: dict[str, int]  # by reason
    losses: list[float]  # per training step
    dev_loss: tuple[float, float] | None  # before, after; None without dev pairs
    seconds: float
    manifest: dict = field(default_factory=dict)


def base_directory(base: str) -> Path:
    kind, target = parse_spec(base, "LLM")
    path, adapter = split_adapter(target)
    if kind != "transformers" or adapter is not None:
        raise ConfigError(f"--base {base!r}: fine-tuning needs a local model, transformers:PATH")
    return Path(path)


def check_out(out: Path) -> None:
    """Refuse to overwrite a directory that is not one this command wrote."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / ADAPTER_MANIFEST).is_file())):
        raise ConfigError(f"--out {out}: exists and is not an adapter docrag wrote; choose another directory")


def train_generator(pairs_path: Path, base: str, out: Path, options: GeneratorOptions = GeneratorOptions(), *,
                    index: Index | None = None, models: ModelOptions = ModelOptions(), language: str = "auto",
                    template: str | None = None, progress: Progress | None = None) -> GeneratorReport:
    """Fine-tune ``base`` (``transformers:PATH``) on the pairs at ``pairs_path`` and save the adapter (or, with
    ``options.full``, the model) to ``out``. ``index``: an open ``docrag.Index`` for pairs without a positive text."""
    import torch

    started = time.perf_counter()
    options.check()
    base_path, pairs_path, out = base_directory(base), Path(pairs_path), Path(out)
    check_out(out)
    pairs = read_pairs(pairs_path)
    if not any(p.answer for p in pairs):
        raise ConfigError(f"--pairs {pairs_path}: none of its {len(pairs)} pairs has an answer; the generator "
                          "trains on question-answer pairs: make them with `docrag adapt qa --llm ...`")
    llm = TransformersLLM(base_path, prefix_cache=False, options=models)
    llm.context_window = min(llm.context_window, options.max_length)
    rng = random.Random(options.seed)
    builder = ExampleBuilder(llm, options.passages, rng, language, template)
    examples, skipped = build_examples(pairs, builder, ChunkSource(index))
    train, dev = examples.get("train", []), examples.get("dev", [])
    if not train:
        reasons = "; ".join(f"{n}: {reason}" for reason, n in skipped.items()) or "none marked split=train"
        raise ConfigError(f"--pairs {pairs_path}: no training examples out of {len(pairs)} pairs ({reasons})")
    torch.manual_seed(options.seed)  # LoRA's initial weights and the dropout masks
    if options.full:
        model, targets = llm.model, []
        model.requires_grad_(True)
        count = count_parameters(model, None, len(linear_layers(model)))
    else:
        model, count, targets = add_lora(llm.model, options)
    pad_id = llm.pad_id if llm.pad_id is not None else builder.end_id
    dev_before = mean_loss(model, dev, options.batch_size, pad_id) if dev else 0.0
    losses = fit(model, train, options, pad_id, rng, progress)
    dev_loss = (dev_before, mean_loss(model, dev, options.batch_size, pad_id)) if dev else None
    report = GeneratorReport(out=out, kind="full" if options.full else "lora", parameters=count,
                             target_modules=targets, examples={s: len(e) for s, e in examples.items()},
                             skipped=dict(skipped), losses=losses, dev_loss=dev_loss,
                             seconds=time.perf_counter() - started)
    report.manifest = {
        "kind": report.kind, "base": str(base_path), "base_fingerprint": model_fingerprint(base_path),
        "pairs": str(pairs_path), "pairs_sha256": sha256_file(pairs_path),
        "options": {**asdict(options), "lr": options.learning_rate}, "target_modules": targets,
        "parameters": asdict(count), "examples": report.examples, "skipped": report.skipped,
        "loss": {"first_step": losses[0], "last_step": losses[-1], "dev_before_after": dev_loss},
        "seconds": round(report.seconds, 1), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        if options.full:  # a whole model directory: transformers:OUT loads it
            llm.tokenizer.save_pretrained(tmp)
        write_text_atomic(tmp / ADAPTER_MANIFEST, json.dumps(report.manifest, ensure_ascii=False, indent=2) + "\n")

    write_dir_atomic(out, write)
    return report
