"""The portal's built-in plugins: they use the same hooks as any outside plugin."""
