"""Hand-edited admin list URLs: a date drill-down or lookup Python cannot turn into a date (year 0, year
10,000, December of 9999) sends staff back to the unfiltered list, as Django's admin does for any other
wrong lookup, instead of a 500. Every registered list is walked, third-party ones included."""
import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.two_factor import verify_session

pytestmark = pytest.mark.django_db

ALWAYS = ["created_at__year=0", "created_at__year=99999", "created_at__iso_year=0",
          "created_at__lt=9999-12-31T23:59:59-05:00"]


def _lists():
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        field = model_admin.date_hierarchy
        queries = list(ALWAYS)
        if field:
            queries += [f"{field}__year=9999", f"{field}__year=9999&{field}__month=12",
                        f"{field}__year=9999&{field}__month=12&{field}__day=31", f"{field}__year=0"]
        yield url, queries


def test_no_admin_list_answers_an_impossible_date_with_a_500(admin_user):
    client = Client(raise_request_exception=False)  # count the 500s instead of stopping at the first
    client.force_login(admin_user)
    verify_session(client, admin_user)
    failures = []
    for url, queries in _lists():
        for query in queries:
            response = client.get(f"{url}?{query}")
            if response.status_code not in (200, 302):
                failures.append((url, query, response.status_code))
            elif response.status_code == 302:
                assert response["Location"] == f"{url}?e=1", (url, query)
    assert failures == []
