"""HASHIRU: a CEO agent that answers by hiring, asking and firing employee agents."""

__version__ = "0.1.0"
