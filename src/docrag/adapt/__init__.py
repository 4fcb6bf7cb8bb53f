"""Adapting the models to the user's documents (``docrag adapt``): question-answer pairs from an index, and
fine-tuning of the embedder and the generator on them. Torch and peft are imported only where used."""
