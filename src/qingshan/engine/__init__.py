"""The accounting engine: a typed run request, then named steps from inputs to stored results."""
