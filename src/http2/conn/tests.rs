//! The connection layer driven with hand-made frames.
