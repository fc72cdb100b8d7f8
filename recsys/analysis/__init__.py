"""The analysis pipeline (clip -> media -> encoders -> understanding) and the item vector it produces."""
