"""The synthetic shapes world, the tiny models of the hub classes trained on it, their training and evaluation,
and the mini-CLIP trained live on the CLIP space page."""
