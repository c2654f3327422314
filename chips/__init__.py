"""Built-in chip profiles for hwsim (YAML package data; see `hwsim.chip.load_chip`)."""
