"""The test kit: helpers every test folder shares (ports, deadlines, processes, references)."""
