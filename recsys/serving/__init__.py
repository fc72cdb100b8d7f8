"""Serving recommendations: queries, the hybrid's component scores, the ranker, explanations, the service the app and CLI call, the embedding map."""
