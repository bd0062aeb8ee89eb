"""Labelling projects: a person as the oracle. One SQLite file per project (`store`), import and
export (`io`), proposals from a strategy and a learner (`session`), the `label` command (`cli`)."""

from core.labels.store import Conflict, LabelStore, ProjectError

__all__ = ["Conflict", "LabelStore", "ProjectError"]
