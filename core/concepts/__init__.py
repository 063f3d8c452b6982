"""One computation per idea the pages teach (patching, cross-attention, captioning, CLIP space, early fusion,
the three fusion designs), each returning a typed result; plus the embedding maths they share."""
