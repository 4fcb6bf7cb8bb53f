"""Retrieve stage: BM25, dense and hybrid retrievers and rank fusion."""

from docrag.retrieve.fusion import reciprocal_rank_fusion, weighted_fusion
from docrag.retrieve.retrievers import BM25Retriever, DenseRetriever, HybridRetriever

__all__ = ["BM25Retriever", "DenseRetriever", "HybridRetriever", "reciprocal_rank_fusion", "weighted_fusion"]
