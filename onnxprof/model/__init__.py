"""Reading models: files and external data (load), shapes (shapes, values), the graph (graph)."""
