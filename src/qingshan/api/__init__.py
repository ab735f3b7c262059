"""Read-only results web service and dashboard (optional ``web`` extra).

Build the application with :func:`qingshan.api.app.create_app`; nothing is imported or opened
here, so ``import qingshan.api`` stays cheap and FastAPI is only needed when the app is built.
"""

__all__: list[str] = []
