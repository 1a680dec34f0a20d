"""billflow: AWS Cost & Usage Reports to cost-allocation marts and customer invoices."""

__version__ = "0.1.0"
