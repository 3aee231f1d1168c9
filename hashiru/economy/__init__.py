"""The economy: what models cost, the budget ledger, and the machine's memory."""
