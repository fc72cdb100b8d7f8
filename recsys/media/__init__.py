"""Decoding and describing clips: validated PyAV decoding (16 kHz mono audio, sampled frames), audio and visual descriptors, browser-safe previews, display arrays."""
