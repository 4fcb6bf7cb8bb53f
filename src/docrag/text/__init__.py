"""Text analysis shared by the stages: the analyzer (``analyzer``: Chinese segmentation, English stemming, word
spans) and the sentence splitter (``sentences``). Chunking, search and answering read text the same way through
it. Nothing is imported here: the analyzer's segmenter takes a tenth of a second to load, and chunking by
characters never needs it."""
