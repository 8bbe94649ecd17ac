"""The four benchmark apps: same routes, same template, same payload."""
