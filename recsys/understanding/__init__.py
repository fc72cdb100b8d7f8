"""Themes, emotions and styles inferred from the encoders' outputs, each with a score and its evidence."""
