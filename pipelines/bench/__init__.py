"""`nudgescope bench`: speed, memory and growth of the pipeline against the floor.

Every measured step runs as a child process (`python -m pipelines.bench.step ...`), so its wall
time and peak memory are the operating system's accounting of a whole process (`os.wait4`).
`pipelines.bench.harness` prepares the data and runs the steps; `pipelines.cli.bench` is the
CLI front. See docs/performance.md for what each step means and the figures measured.
"""
