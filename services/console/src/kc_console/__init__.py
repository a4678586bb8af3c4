"""The officers' web console: server-rendered pages in Vietnamese over the services' public HTTP APIs."""
