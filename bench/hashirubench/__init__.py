"""HASHIRUBench: accuracy against cost, HASHIRU against a single model, scored one way.

Both arms get the same seeded items, the same prompt and the same extraction and scoring, and
every item's tokens, money and time are recorded, so the comparison is fair by construction.
Uses only the public `hashiru` API, as a user would. See bench/README.md.
"""
