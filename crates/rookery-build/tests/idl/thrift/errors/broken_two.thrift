enum Two { A = "a" }
