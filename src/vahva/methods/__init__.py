"""Sign-in methods: one module per method behind one interface, found through a registry."""
