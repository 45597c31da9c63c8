"""Image classification datasets: folder/textfile/archive sources → labels + LMDBs + mean."""
