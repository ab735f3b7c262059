"""API routers: one module per resource, each a plain ``APIRouter``."""
