"""The page ferry's health check reads: which release serves, and how many
notes the database holds (so the check fails when the database does)."""

from django.conf import settings
from django.http import JsonResponse

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
