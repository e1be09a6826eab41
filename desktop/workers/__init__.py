"""Qt adapters that run the engine's functions on worker threads and report through signals."""
