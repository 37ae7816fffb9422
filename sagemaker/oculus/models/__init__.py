"""Models shipped with the engine (each described by a card.json next to its files)."""
