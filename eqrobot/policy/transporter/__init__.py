"""Pick-and-place from top-down heightmaps (Transporter family): the episode format, and
later the agents, their training and evaluation."""
