"""Cloud GPU rental versus an inference API versus owned hardware versus a hybrid."""
