"""Model jobs and the training engine (solvers, LR policies, preprocessing, snapshots, trainer)."""
