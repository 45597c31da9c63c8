"""Datasets: building (tools), reading (reader.py) and describing (dataset.json) dataset job folders."""
