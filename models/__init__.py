"""PyTorch models: frozen backbones (`models.backbones`), temporal heads, training and metrics. No Dagster here."""
