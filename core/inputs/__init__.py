"""What comes in from a student: images (uploads and samples) and text (cleaned and cut to the models' limits)."""
