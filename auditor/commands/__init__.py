"""Commands contributed to the CLI by other parts of the package (each has `register(app)`)."""
