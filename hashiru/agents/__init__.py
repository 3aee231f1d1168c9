"""The agent layer: the CEO loop, employees, and the tools the CEO manages them with."""
