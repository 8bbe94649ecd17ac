"""pyserverbench: benchmark Python web servers and worker models under k6 load."""
