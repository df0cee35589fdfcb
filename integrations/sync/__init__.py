"""The sync engine: jobs that push records to a provider or pull its recipients."""
