"""Retrieve stage: BM25, dense and hybrid retrievers and rank fusion."""

from docrag.retrieve.fusion import peak_weighted_rrf, reciprocal_rank_fusion, weighted_fusion
from docrag.retrieve.retrievers import BM25Retriever, DenseRetriever, HybridRetriever

__all__ = ["BM25Retriever", "DenseRetriever", "HybridRetriever", "peak_weighted_rrf", "reciprocal_rank_fusion",
           "weighted_fusion"]
