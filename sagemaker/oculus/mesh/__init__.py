"""Label map -> one closed, smoothed, decimated surface per structure, and its exports."""
