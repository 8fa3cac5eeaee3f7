"""The admin web app: server-rendered pages at /admin, served by the API's own process."""
