"""Built-in stores, one module (or package) per backend, imported only when a config names them."""
