"""Side-by-side benchmarks of neurona against PyTorch: run ``python -m bench``."""
