import json

from django.http import JsonResponse
from django.views.decorators.http import require_POST

from eligibility.rules import FactsError
from eligibility.service import eligibility_assess_json


@require_POST
def eligibility_api(request):
    """POST /api/eligibility: the facts as JSON in, the result as JSON out.

    For signed-in users of any role. CSRF applies: send the `csrftoken` cookie's value in an
    `X-CSRFToken` header (htmx pages do this from the `hx-headers` on <body>).
    """
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Sign in to use the eligibility checker."}, status=401)
    try:
        payload = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        return JsonResponse({"errors": {"body": f"is not valid JSON: {message}"}}, status=400)
    try:
        result = eligibility_assess_json(payload)
    except FactsError as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    return JsonResponse(result, safe=False)
