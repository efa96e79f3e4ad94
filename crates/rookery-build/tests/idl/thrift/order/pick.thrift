const string WHERE = "beside"
