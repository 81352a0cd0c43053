"""The test app as a module uvicorn can serve in a real process."""

from main import create_app
from tests.support.routes import router

app = create_app()
app.include_router(router)
