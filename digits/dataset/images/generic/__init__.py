"""Generic ("Other") image datasets: the user's own feature and label LMDBs, checked and described."""
