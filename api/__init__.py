"""okno faces: HTTP API, web pages and the command line — thin layers over `engine`."""
