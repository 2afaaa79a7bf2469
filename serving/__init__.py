"""Pieces that let several Rasa processes serve one clinic (production profile)."""
