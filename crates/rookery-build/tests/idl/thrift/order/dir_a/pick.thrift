const string WHERE = "dir_a"
