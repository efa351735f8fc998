"""The domain. Nothing here imports handlers or middlewares."""
