"""Offline evaluation: protocols and splits, ranking metrics, model comparison, and the app hybrid's held-out tuning."""
