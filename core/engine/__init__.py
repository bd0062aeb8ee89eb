"""The engine: settings, the round loop, stream selection, the on-disk cache, features, background jobs."""
