"""Object orientation from one image as a distribution over SO(3) (issue 6; the data so far)."""
