"""Two pages: which release serves and what the database holds, and a
health check for ferry's `http.check`."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from .models import Note


def index(request):
    revision = settings.BASE_DIR / "REVISION"
    return JsonResponse(
        {
            "app": "django-notes",
            "release": settings.BASE_DIR.name,
            "revision": revision.read_text().strip() if revision.exists() else "unknown",
            "notes": Note.objects.count(),
        }
    )


def health(request):
    """200 when the app can read its database."""
    Note.objects.exists()
    return HttpResponse("ok\n", content_type="text/plain")
