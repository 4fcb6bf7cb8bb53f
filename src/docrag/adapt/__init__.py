"""Adapt stage: fit the models to the user's own documents (``docrag adapt``)."""
