"""Power meters: lab instruments over VISA, Jetson on-board sensors, tegrastats, NVML, replayed CSVs."""
