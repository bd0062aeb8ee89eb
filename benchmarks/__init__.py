"""Speed, memory and label-efficiency benchmarks: `python -m benchmarks [NAME ...] [--quick]`."""
