"""The training losses experiments may ask for, by name, importable without torch.

Loading a project config checks the space file's ``loss`` values against these names, and loading a
config must stay cheap; ``models.losses`` (which needs torch) implements each of them.
"""

LOSSES: tuple[str, ...] = ("focal", "bce", "label_smoothing")
