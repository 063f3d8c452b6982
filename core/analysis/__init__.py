"""Checking what attention claims: grounding on scenes with ground truth, and the masking (faithfulness) test."""
