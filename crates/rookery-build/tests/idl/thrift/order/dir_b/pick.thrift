const string WHERE = "dir_b"
