"""Classroom features: the page table, shared links, presets, predict-then-reveal grading, the lesson's words,
exports."""
