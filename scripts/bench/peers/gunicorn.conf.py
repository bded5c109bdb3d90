"""gunicorn settings for the peer (chat_app.py): 2 Uvicorn workers, as the
Azure chat samples deploy FastAPI. The bind address comes from the command
line (-b); scripts/bench/run raises the fd limit before starting it."""
workers = 2
worker_class = "uvicorn.workers.UvicornWorker"
backlog = 4096
keepalive = 75
timeout = 120
graceful_timeout = 5
accesslog = None
loglevel = "warning"
